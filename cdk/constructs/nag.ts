// cdk-nag suppressions, each with its reason, for the few findings squall's resources answer by
// design. They are metadata that only cdk-nag's rule packs read, and a project without cdk-nag
// runs none: so squall/cdk adds them where cdk-nag is installed and needs nothing otherwise.
import { createRequire } from "node:module";
import type { IConstruct } from "constructs";

/** One rule answered: `appliesTo` narrows it to findings on those resources or actions. */
export interface NagSuppression {
  readonly id: string;
  readonly reason: string;
  /** Findings as cdk-nag names them, or `{ regex: "/.../" }` for a family of them. */
  readonly appliesTo?: (string | { readonly regex: string })[];
}

let loaded: typeof import("cdk-nag") | null | undefined;

/** Suppresses `suppressions` on `construct` (and its children, with `applyToChildren`). */
export function suppressNag(
  construct: IConstruct,
  suppressions: NagSuppression[],
  applyToChildren = false,
): void {
  cdkNag()?.NagSuppressions.addResourceSuppressions(construct, suppressions, applyToChildren);
}

/** cdk-nag as an import beside squall would find it, or `null` where it is not installed. */
function cdkNag(): typeof import("cdk-nag") | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)("cdk-nag") as typeof import("cdk-nag");
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND";
      if (!missing || !String((error as Error).message).includes("'cdk-nag'")) throw error;
      loaded = null;
    }
  }
  return loaded;
}
