/**
 * Cleans up what a test started (a child process, a temp dir) when the test process ends without
 * stopping it: on 'exit', and on the SIGTERM the runner sends a file that overruns its timeout
 * (which skips 'exit'; the signal is sent again once `cleanup` ran, so the process still ends).
 * `cleanup` must be synchronous. Returns a function that forgets it (the test stopped it itself).
 */
export function cleanUpOnExit (cleanup: () => void): () => void {
  const onSigterm = (): void => {
    process.off('exit', cleanup)
    cleanup()
    process.kill(process.pid, 'SIGTERM')
  }
  process.once('exit', cleanup)
  process.once('SIGTERM', onSigterm)
  return () => {
    process.off('exit', cleanup)
    process.off('SIGTERM', onSigterm)
  }
}
