// The V8 flags a long-running goldgate server runs with. Without a heap cap V8 lets the old
// space grow lazily while a large export streams (hundreds of MB of short-lived strings);
// with one it collects earlier and the process stays small. GOLDGATE_HEAP_MB=0 leaves V8's default.

/** Default heap cap of `goldgate serve|start`, in MB (the answer cache lives inside it). */
export const DEFAULT_HEAP_MB = 192;

/** The flags for a server process under this environment (empty when the caller set its own). */
export function serverNodeFlags(env = process.env, execArgv = process.execArgv) {
  const own = [...execArgv, env.NODE_OPTIONS ?? ''].some((a) => a.includes('--max-old-space-size'));
  const raw = env.GOLDGATE_HEAP_MB ?? String(DEFAULT_HEAP_MB);
  const mb = Number(raw);
  if (!Number.isInteger(mb) || mb < 0)
    throw new Error(`GOLDGATE_HEAP_MB: expected a whole number of MB, got ${raw}`);
  return own || mb === 0 ? [] : [`--max-old-space-size=${mb}`];
}
