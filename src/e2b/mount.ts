/** Where the E2B face is mounted on the server: E2B_API_URL and E2B_SANDBOX_URL are http://<server>/e2b. */
export const E2B_BASE_PATH = "/e2b";
