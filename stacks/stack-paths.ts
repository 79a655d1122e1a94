import { relative, resolve, sep } from "node:path";
import type { IConstruct } from "constructs";
import { App, Manifest, TerraformStack } from "./cdktf";
import { terraformLiteral } from "./config/terraform-literal";

/**
 * `path` relative to the directory Terraform runs the stack in (`<outdir>/stacks/<stack>`), in posix form.
 * Paths Terraform reads (workspace file sources, the post-apply working directory) are written this way, so
 * the synthesized JSON holds no machine-specific absolute path and works wherever the repository lives.
 * Returned as a Terraform literal: directory and file names are outside text like configuration is.
 */
export function relativeToStackDirectory(scope: IConstruct, path: string): string {
  const stackDirectory = resolve(App.of(scope).outdir, Manifest.stacksFolder, TerraformStack.of(scope).node.id);
  return terraformLiteral(relative(stackDirectory, path).split(sep).join("/"));
}
