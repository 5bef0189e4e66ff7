// Writes the JSON Schema of isol8.config.json next to the build, from the
// same zod schema that validates the file, so editors and isol8 agree.
import { writeFileSync } from "node:fs";
import { z } from "zod";
import { configSchema } from "../dist/config/file.js";

const schema = {
  title: "isol8 configuration (isol8.config.json)",
  ...z.toJSONSchema(configSchema, { io: "input" }),
};
writeFileSync("dist/isol8.config.schema.json", `${JSON.stringify(schema, null, 2)}\n`);
