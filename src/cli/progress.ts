/** Human progress lines on stderr (stdout stays for what a command prints: tokens, URLs). */
export function progress(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)}  ${message}\n`);
}
