# shellcheck shell=bash
# Sourced by the deploy workflow's Terraform steps with SECRETS set to `toJSON(secrets)`: every secret of the
# job's GitHub environment becomes an environment variable of this shell, so Terraform, its backend and the
# post-apply step read their credentials the way they always do (DATABRICKS_*, AWS_*, ARM_*, ...).
# GitHub stores secret names in upper case and Terraform's variable names here are lower case, so
# TF_VAR_SECRET_<KEY> is exported as TF_VAR_secret_<key>. The workflow's own github_token is left out.
while IFS= read -r -d '' name && IFS= read -r -d '' value; do
  export "$name=$value"
done < <(node -e '
  for (const [name, value] of Object.entries(JSON.parse(process.env.SECRETS || "{}"))) {
    if (name === "github_token") continue;
    const exported = name.startsWith("TF_VAR_") ? `TF_VAR_${name.slice("TF_VAR_".length).toLowerCase()}` : name;
    process.stdout.write(`${exported}\0${value}\0`);
  }')
unset SECRETS name value
