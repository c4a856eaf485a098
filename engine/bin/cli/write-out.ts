/**
 * Writes to stdout and resolves once the text is handed to the OS: the CLI ends with
 * `process.exit`, which would cut off a long output still queued for a pipe.
 */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => (error ? reject(error) : resolve()));
  });
}
