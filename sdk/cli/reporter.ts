/** How `squall run` shows a run as it goes: a live display in a terminal, plain lines elsewhere. */
export interface Reporter {
  /** The flow run has started. */
  begin(run: { readonly id: string; readonly name: string; readonly flowName: string }): void;
  /** Writes a line of the CLI's own to stderr, without mixing it into the display. */
  line(text: string): void;
  /** Stops reporting progress: what follows is written as plain lines. */
  end(): void;
}
