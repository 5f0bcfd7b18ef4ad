import type { EntityContract, FieldDef } from './entities.js';

/**
 * One way a staged event can break its entity's contract, and the reason
 * code it is then quarantined with (`lake.md`). The rules and their codes are
 * written here once; each engine flavour (`silver.ts` embedded,
 * `athena/silver.ts`) renders every rule's condition in its own SQL.
 */
export type ContractRule =
  | { readonly kind: 'missing_key'; readonly code: string }
  | { readonly kind: 'unknown_op'; readonly code: string }
  | { readonly kind: 'bad_source_ts'; readonly code: string }
  /** The field's text does not read as its contract type (a fraction in a whole-number field included). */
  | { readonly kind: 'not_of_type'; readonly field: FieldDef; readonly code: string }
  | { readonly kind: 'missing_field'; readonly field: FieldDef; readonly code: string }
  | {
      readonly kind: 'unknown_value';
      readonly field: FieldDef;
      readonly values: readonly string[];
      readonly code: string;
    }
  | { readonly kind: 'negative'; readonly field: FieldDef; readonly code: string };

/** The rules every event meets before its entity's fields are looked at. */
export const ENVELOPE_RULES: readonly ContractRule[] = [
  { kind: 'missing_key', code: 'MISSING_KEY' },
  { kind: 'unknown_op', code: 'UNKNOWN_OP' },
  { kind: 'bad_source_ts', code: 'TYPE_MISMATCH:source_ts' },
];

/** The rules one field's value meets. Presence, allowed values and sign apply to live rows (not `D`). */
export function fieldRules(field: FieldDef): ContractRule[] {
  const rules: ContractRule[] = [{ kind: 'not_of_type', field, code: `TYPE_MISMATCH:${field.name}` }];
  if (field.required) rules.push({ kind: 'missing_field', field, code: `MISSING_FIELD:${field.name}` });
  if (field.values) {
    rules.push({ kind: 'unknown_value', field, values: field.values, code: `UNKNOWN_ENUM:${field.name}` });
  }
  if (field.nonNegative) rules.push({ kind: 'negative', field, code: `NEGATIVE_AMOUNT:${field.name}` });
  return rules;
}

/** Every rule of a contract, in the order their codes are listed in `_violation`. */
export function contractRules(contract: EntityContract): ContractRule[] {
  return [...ENVELOPE_RULES, ...contract.fields.flatMap(fieldRules)];
}
