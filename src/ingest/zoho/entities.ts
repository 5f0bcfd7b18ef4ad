/**
 * The Zoho Books entities goldgate lands, with the quirks of each list
 * endpoint (the array key differs from the path for payments and credit notes).
 */
export const ZOHO_ENTITIES = {
  contacts: { path: 'contacts', listKey: 'contacts', idField: 'contact_id' },
  invoices: { path: 'invoices', listKey: 'invoices', idField: 'invoice_id' },
  customer_payments: { path: 'customerpayments', listKey: 'customerpayments', idField: 'payment_id' },
  credit_notes: { path: 'creditnotes', listKey: 'creditnotes', idField: 'creditnote_id' },
  recurring_invoices: {
    path: 'recurringinvoices',
    listKey: 'recurring_invoices',
    idField: 'recurring_invoice_id',
  },
} as const;

export type ZohoEntity = keyof typeof ZOHO_ENTITIES;
