# isol8:bash - the base image as is (bash is part of Debian's minimal system).
FROM isol8:base
