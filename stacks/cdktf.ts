/**
 * The only module that imports `cdktf` itself. Everything else imports these names from here, so moving to
 * the maintained fork (CDK Terrain, `cdktn`) is a change to this one file.
 * (The prebuilt provider bindings import `cdktf` on their own; they move with their own package.)
 */
export {
  AnnotationMetadataEntryType,
  anyToHclTerraform,
  anyToTerraform,
  Annotations,
  App,
  Aspects,
  AzurermBackend,
  DefaultTokenResolver,
  Fn,
  GcsBackend,
  hashMapper,
  hashMapperHcl,
  LocalBackend,
  Manifest,
  NamedRemoteWorkspace,
  RemoteBackend,
  S3Backend,
  StringConcat,
  TerraformBackend,
  TerraformElement,
  TerraformIterator,
  TerraformOutput,
  TerraformResource,
  TerraformStack,
  TerraformVariable,
  Testing,
  Token,
  Tokenization,
} from "cdktf";
export type { IAspect, ITerraformDependable, TerraformMetaArguments } from "cdktf";
