import { EntitySchema } from '@mikro-orm/core';

// Tenancy (DESIGN §4): users are global; members put a user in an org; applications belong to an
// org; an API key belongs to an application and a member. Ids are app-generated strings.

export interface User {
  id: string;
  email: string;
  createdAt: Date;
}
export const UserSchema = new EntitySchema<User>({
  name: 'User',
  tableName: 'users',
  properties: {
    id: { type: 'string', primary: true },
    email: { type: 'string', unique: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});

export interface Org {
  id: string;
  name: string;
  createdAt: Date;
}
export const OrgSchema = new EntitySchema<Org>({
  name: 'Org',
  tableName: 'orgs',
  properties: {
    id: { type: 'string', primary: true },
    name: { type: 'string', unique: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});

export interface Member {
  id: string;
  orgId: string;
  userId: string;
  role: string;
  createdAt: Date;
}
export const MemberSchema = new EntitySchema<Member>({
  name: 'Member',
  tableName: 'members',
  uniques: [{ properties: ['orgId', 'userId'] }],
  properties: {
    id: { type: 'string', primary: true },
    orgId: { type: 'string' },
    userId: { type: 'string' },
    role: { type: 'string', default: 'member' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});

export interface Application {
  id: string;
  orgId: string;
  name: string;
  createdAt: Date;
}
export const ApplicationSchema = new EntitySchema<Application>({
  name: 'Application',
  tableName: 'applications',
  uniques: [{ properties: ['orgId', 'name'] }],
  properties: {
    id: { type: 'string', primary: true },
    orgId: { type: 'string' },
    name: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});

export interface ApiKey {
  id: string;
  applicationId: string;
  memberId: string;
  /** SHA-256 hex of the full key: the key itself is never stored. */
  keyHash: string;
  /** First characters, for humans telling keys apart. */
  prefix: string;
  createdAt: Date;
  /** From then on the key is refused; a rotated key's may lie in the future (its grace period). */
  revokedAt?: Date | null;
  /** The key this one was rotated from. */
  replacesKeyId?: string | null;
}
export const ApiKeySchema = new EntitySchema<ApiKey>({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: { type: 'string', primary: true },
    applicationId: { type: 'string' },
    memberId: { type: 'string' },
    keyHash: { type: 'string', unique: true },
    prefix: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    revokedAt: { type: 'Date', nullable: true },
    replacesKeyId: { type: 'string', nullable: true },
  },
});
