import { Router } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { addMember, createApplication, createKey, createOrg, createUser } from '../../../db/tenancy.js';
import {
  addMemberSchema,
  applicationParamsSchema,
  createApplicationSchema,
  createKeySchema,
  createOrgSchema,
  createUserSchema,
  orgParamsSchema,
} from '../../../protocol/admin.js';
import { GenieError } from '../../../protocol/errors.js';
import { parseWith } from '../../middleware/parse-body.js';

/** Postgres constraint violations → the admin caller's 404 (a referenced id is unknown) or 409 (duplicate). */
export function constraintError(e: unknown): never {
  const code = (e as { code?: string }).code;
  if (code === '23503') throw GenieError.notFound('A referenced id does not exist.');
  if (code === '23505') throw new GenieError({ status: 409, message: 'It already exists.', type: 'invalid_request_error', code: 'conflict', param: null });
  throw e;
}

export function adminTenancyRoute(orm: MikroORM): Router {
  const router = Router();
  const em = () => orm.em.fork();
  router.post('/orgs', async (req, res) => {
    const { name } = parseWith(createOrgSchema, req.body);
    res.status(201).json(await createOrg(em(), name).catch(constraintError));
  });
  router.post('/users', async (req, res) => {
    const { email } = parseWith(createUserSchema, req.body);
    res.status(201).json(await createUser(em(), email).catch(constraintError));
  });
  router.post('/orgs/:orgId/members', async (req, res) => {
    const { orgId } = parseWith(orgParamsSchema, req.params);
    const { userId, role } = parseWith(addMemberSchema, req.body);
    res.status(201).json(await addMember(em(), orgId, userId, role).catch(constraintError));
  });
  router.post('/orgs/:orgId/applications', async (req, res) => {
    const { orgId } = parseWith(orgParamsSchema, req.params);
    const { name } = parseWith(createApplicationSchema, req.body);
    res.status(201).json(await createApplication(em(), orgId, name).catch(constraintError));
  });
  router.post('/applications/:applicationId/keys', async (req, res) => {
    const { applicationId } = parseWith(applicationParamsSchema, req.params);
    const { memberId } = parseWith(createKeySchema, req.body);
    const created = await createKey(em(), applicationId, memberId);
    if (!created) throw GenieError.notFound('No such application, or the member is not in its org.');
    res.status(201).json(created);
  });
  return router;
}
