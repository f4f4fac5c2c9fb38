import { temporalClient } from '../support/stack.js';

// Node health stays durable and visible to ops without a workflow per probe: one long-running prober
// workflow per fleet, its last round in the pending activity's heartbeat.

describe('the fleet prober', () => {
  it('is one running workflow per fleet whose heartbeat carries the last probe round, and no schedule', async () => {
    const { client, close } = await temporalClient();
    try {
      const handle = client.workflow.getHandle('genie-fleet-probe-default');
      let round: { at: string; probed: number; healthy: number; rounds: number } | undefined;
      const end = Date.now() + 30_000;
      while (!round?.rounds || round.rounds < 1) {
        if (Date.now() > end) throw new Error(`no probe rounds in the prober's heartbeat: ${JSON.stringify(round)}`);
        const desc = await client.workflowService.describeWorkflowExecution({ namespace: client.options.namespace, execution: { workflowId: handle.workflowId } });
        expect(desc.workflowExecutionInfo?.status).toBe(1); // RUNNING
        const pending = desc.pendingActivities ?? [];
        expect(pending.map((a) => a.activityType?.name)).toEqual(['probeFleetRounds']);
        const payload = pending[0].heartbeatDetails?.payloads?.[0];
        round = payload ? client.options.loadedDataConverter.payloadConverter.fromPayload(payload) : undefined;
        if (!round?.rounds || round.rounds < 1) await new Promise((r) => setTimeout(r, 500));
      }
      // The dev stack's two simulator nodes at least (other tests register more in this fleet), probed lately.
      expect(round!.probed).toBeGreaterThanOrEqual(2);
      expect(round!.healthy).toBeGreaterThanOrEqual(2);
      expect(Date.now() - Date.parse(round!.at)).toBeLessThan(120_000);
      // Probing started no workflow per round: the whole suite's probes are this one execution.
      const probers: string[] = [];
      for await (const w of client.workflow.list({ query: `WorkflowType = "probeFleet" AND WorkflowId = "genie-fleet-probe-default"` })) probers.push(w.runId);
      expect(probers).toHaveLength(1);
      const schedules: string[] = [];
      for await (const s of client.schedule.list()) schedules.push(s.scheduleId);
      expect(schedules.filter((id) => id.startsWith('genie-fleet-probe'))).toEqual([]);
      // The lean workflow sandbox is on in Genie's workers: no stack-trace hook to answer the UI's query.
      await expect(handle.query('__stack_trace')).rejects.toThrow(/stack traces are not enabled/);
    } finally {
      await close();
    }
  });
});
