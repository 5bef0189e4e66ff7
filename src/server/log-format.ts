/**
 * How `isol8 serve` writes its log: `text`, one line an operator reads per
 * entry, or `json`, one pino JSON object per line for log shippers. Kept
 * apart from the logger so the CLI can name the formats without loading it.
 */
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
