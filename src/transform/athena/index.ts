export { bindInWhereOnly, trinoLiteral } from './bind.js';
export {
  type AthenaConfig,
  type AthenaGrammar,
  type AthenaStatement,
  defineAthenaConfig,
  existingTablesQuery,
  goldRunLocation,
  goldRunTable,
} from './config.js';
export {
  athenaGoldContext,
  batchPredicate,
  goldBuildStatements,
  goldDropRunStatement,
  goldPublishStatement,
  MAX_PARTITIONS_PER_STATEMENT,
  type PartitionBatch,
  type PartitionValue,
  partitionValuesQuery,
  planPartitionBatches,
} from './gold.js';
export { optimizeStatement, silverMaintenanceStatements, vacuumStatement } from './maintenance.js';
export {
  type BronzePartition,
  bronzeTableDdl,
  clearStagingStatement,
  emptySilverRelation,
  mergeStatement,
  newestSourceQuery,
  quarantineStatement,
  quarantineTableDdl,
  reconcileQuery,
  type SilverBatch,
  silverColumns,
  silverMergeStatements,
  silverRelation,
  silverSetupStatements,
  silverSnapshotQuery,
  silverTableDdl,
  stageStatement,
  stagingTableDdl,
} from './silver.js';
