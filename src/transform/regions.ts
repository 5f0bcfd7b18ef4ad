/**
 * Billing country -> sales region, used when a customer has no product
 * account to take the region from. One list, bound into SQL as parameters.
 */
export const COUNTRY_REGIONS: ReadonlyArray<readonly [string, string]> = [
  ['United States', 'NA'],
  ['U.S.A', 'NA'],
  ['USA', 'NA'],
  ['Canada', 'NA'],
  ['Mexico', 'LATAM'],
  ['Brazil', 'LATAM'],
  ['Argentina', 'LATAM'],
  ['Chile', 'LATAM'],
  ['United Kingdom', 'EU'],
  ['Germany', 'EU'],
  ['France', 'EU'],
  ['Spain', 'EU'],
  ['Italy', 'EU'],
  ['Netherlands', 'EU'],
  ['Ireland', 'EU'],
  ['Sweden', 'EU'],
  ['India', 'APAC'],
  ['Singapore', 'APAC'],
  ['Australia', 'APAC'],
  ['Japan', 'APAC'],
  ['Indonesia', 'APAC'],
  ['United Arab Emirates', 'MEA'],
  ['Saudi Arabia', 'MEA'],
  ['South Africa', 'MEA'],
  ['Egypt', 'MEA'],
];
