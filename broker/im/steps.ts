/**
 * Multi-step flows are arrays of named steps run in order by this runner (like aedes'
 * connectActions). A step reads and extends the shared state; a thrown ImError stops the flow.
 */
export interface Step<S> {
  readonly name: string
  run (state: S): Promise<void>
}

export async function runSteps<S> (state: S, steps: ReadonlyArray<Step<S>>): Promise<S> {
  for (const step of steps) await step.run(state)
  return state
}
