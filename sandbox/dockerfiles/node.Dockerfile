# isol8:node - Node.js on isol8:base. The build context holds the npm packages
# node-linux-<arch> (in node/) and npm (in npm/; the node-linux-* packages do
# not ship npm), extracted on the host.
FROM isol8:base
COPY node/package/bin/node /usr/local/bin/node
COPY npm/package/ /usr/local/lib/node_modules/npm/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
