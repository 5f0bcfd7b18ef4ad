/** Default heap cap of `goldgate serve|start`, in MB. */
export declare const DEFAULT_HEAP_MB: number;
/** The V8 flags for a server process under this environment (empty when the caller set its own). */
export declare function serverNodeFlags(env?: NodeJS.ProcessEnv, execArgv?: readonly string[]): string[];
