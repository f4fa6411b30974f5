export interface EmbeddedMigration {
  /** 1-based, contiguous: migration N is applied after N-1. */
  id: number;
  tag: string;
  /** sha256 of the drizzle-kit SQL file, recorded when applied. */
  hash: string;
  statements: string[];
}
