/** SQL types the marts use (DuckDB and Athena spell them the same). */
export type SqlType =
  | 'VARCHAR'
  | 'BIGINT'
  | 'INTEGER'
  | 'DOUBLE'
  | 'BOOLEAN'
  | 'DATE'
  | 'TIMESTAMP'
  | 'DECIMAL(18,2)';

/** How a column appears in the API. Decimals travel as strings (exact); dates as ISO text. */
export type ApiType = 'ID' | 'String' | 'Int' | 'Float' | 'Boolean' | 'Decimal' | 'Date' | 'DateTime';

/** PII classes; masking rules are keyed by these (`access.md`). */
export type PiiTag = 'email' | 'phone';

/** One column of a mart. */
export interface ColumnDef {
  /** snake_case, as in SQL and REST; GraphQL uses its camelCase. */
  readonly name: string;
  readonly sqlType: SqlType;
  readonly apiType: ApiType;
  readonly description: string;
  readonly nullable: boolean;
  readonly pii?: PiiTag;
  /** Allowed values, when the column is an enumeration. */
  readonly values?: readonly string[];
}

/** A link from one mart to another, loaded in batches by the API. */
export interface RelationDef {
  /** The API field name on the parent (camelCase). */
  readonly field: string;
  readonly target: string;
  /** Pairs of (parent column, target column). */
  readonly on: ReadonlyArray<readonly [string, string]>;
  readonly cardinality: 'one' | 'many';
  readonly description: string;
}

/** Declared quality checks beyond those every mart gets (keys, not-null, allowed values). */
export interface MartChecks {
  /** Inclusive bounds on numeric or date columns (values as text, compared in the column's type). */
  readonly ranges?: ReadonlyArray<{ readonly column: string; readonly min?: string; readonly max?: string }>;
  /**
   * Referential integrity: every non-null value of `column` exists in `mart.targetColumn`
   * (a mart built earlier in the same run, or its served version). `blocking` stops publication.
   */
  readonly references?: ReadonlyArray<{
    readonly column: string;
    readonly mart: string;
    readonly targetColumn: string;
    readonly blocking: boolean;
  }>;
}

/** One Gold mart: the single declaration the schema, SQL, REST and policies derive from. */
export interface MartDef {
  readonly name: string;
  readonly schemaVersion: number;
  readonly description: string;
  /** Columns that identify a row; also the stable sort for pagination. */
  readonly key: readonly string[];
  readonly columns: readonly ColumnDef[];
  readonly partitionBy: readonly string[];
  /** The columns row-level policies scope on. */
  readonly rowScope: { readonly region?: string; readonly customer?: string };
  readonly relations: readonly RelationDef[];
  readonly checks?: MartChecks;
  readonly api: {
    /** GraphQL object type name. */
    readonly typeName: string;
    /** Root field listing rows (a connection). */
    readonly listField: string;
    /** Root field fetching one row by key, when the key is one column. */
    readonly itemField?: string;
    /** Further root names serving this same version (set by the catalog for served versions). */
    readonly aliases?: ReadonlyArray<{ readonly listField: string; readonly itemField?: string }>;
    /** Set on a version kept for old callers: why and until when (GraphQL `@deprecated`). */
    readonly deprecation?: string;
  };
  /**
   * Earlier schema versions still served beside this one after a breaking
   * change, each rebuilt every run as a projection of this version, until it
   * is removed from here (retired).
   */
  readonly previousVersions?: readonly RetainedVersion[];
  /** Set on a served earlier version: the current definition it is projected from. */
  readonly projectedFrom?: Projection;
}

/** A column of an earlier version: derived from the current version's column `from` (default: the same name). */
export interface RetainedColumn extends ColumnDef {
  readonly from?: string;
}

/** An earlier schema version of a mart kept serving after a breaking change. */
export interface RetainedVersion {
  readonly schemaVersion: number;
  /** What the next version changed, for callers (shown in descriptions and deprecations). */
  readonly change: string;
  /** The day (YYYY-MM-DD) it is planned to be retired, announced to callers. */
  readonly retiresOn?: string;
  /** Its columns, in its order, each cast to its own type from a current column. */
  readonly columns: readonly RetainedColumn[];
}

/** How a served earlier version derives from the current definition. */
export interface Projection {
  readonly current: MartDef;
  /** earlier-version column -> current column */
  readonly columnFrom: ReadonlyMap<string, string>;
}
