/**
 * `npm run synth [-- <env>...]`: one stack per environment in environments/ (all, or the ones named),
 * written to cdktf.out/stacks/<env>/cdk.tf.json. Needs no credentials and no network.
 */
import { synthesize } from "./stacks/synthesize";
import { runCommand } from "./tools/lib/cli";

runCommand({
  name: "synth",
  usage: `usage: npm run synth [-- <environment> ...]
  Writes one Terraform stack per environment (every file in environments/, or the ones named) to
  cdktf.out/stacks/<environment>/cdk.tf.json. Needs no credentials and no network.
  Exit codes: 0 done; 1 a mistake in the configuration, the migrations or a guardrail (every problem
  listed, one line each); 70 a bug (stack trace).`,
  run: ({ argv }) => {
    synthesize({ only: argv });
    return 0;
  },
});
