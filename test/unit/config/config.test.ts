import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';

describe('config', () => {
  it('defaults to the embedded home on 127.0.0.1:4000', () => {
    const config = loadConfig({});
    expect(config.home).toBe('embedded');
    expect(config.server).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(config.auth.algorithms).toEqual(['ES256', 'RS256']);
    expect(config.lakeDir.endsWith('.lake')).toBe(true);
  });

  it('names every bad setting', () => {
    try {
      loadConfig({ GOLDGATE_PORT: '99999', GOLDGATE_HOME: 'mars', GOLDGATE_JWT_ALGORITHMS: 'none,HS256' });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
      const text = String((error as Error).message);
      expect(text).toContain('GOLDGATE_PORT');
      expect(text).toContain('GOLDGATE_HOME');
      expect(text).toContain('GOLDGATE_JWT_ALGORITHMS');
    }
  });
});
