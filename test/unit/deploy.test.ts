import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadPolicyText } from '../../src/config/load.js';

interface Container {
  name: string;
  args?: string[];
  readinessProbe?: { httpGet?: { path: string; port: string } };
  livenessProbe?: { httpGet?: { path: string; port: string } };
  ports?: { name: string; containerPort: number }[];
  securityContext?: { runAsNonRoot?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
  env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
}

describe('deploy/kubernetes', () => {
  const docs = parseAllDocuments(readFileSync('deploy/kubernetes/privguard-sidecar.yaml', 'utf8')).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: unknown };
  });
  const byKind = (k: string) => docs.find((d) => d.kind === k)!;

  it('has a ConfigMap with a policy privguard accepts', () => {
    const policy = byKind('ConfigMap').data!['policy.yaml']!;
    expect(() => loadPolicyText(policy, 'configmap', { COMPONENT_SECRET: 'x' }).policy).toThrow(/upstream-secret/); // the file exists only in the Pod
    const withoutFile = policy.replace(/upstream_secret: .*\n/, 'upstream_secret: { env: UPSTREAM_SECRET }\n');
    expect(loadPolicyText(withoutFile, 'configmap', { COMPONENT_SECRET: 'x', UPSTREAM_SECRET: 'y' }).policy.metrics).toEqual({ host: '0.0.0.0', port: 9464 });
  });

  it('runs privguard as a sidecar of the component, probed on /readyz and /healthz, scraped by Prometheus', () => {
    const dep = byKind('Deployment') as unknown as {
      spec: { template: { metadata: { annotations: Record<string, string> }; spec: { containers: Container[]; volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[] } } };
    };
    const pod = dep.spec.template;
    expect(pod.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9464', 'prometheus.io/path': '/metrics' });
    const names = pod.spec.containers.map((c) => c.name);
    expect(names).toEqual(['component', 'privguard']);
    const pg = pod.spec.containers.find((c) => c.name === 'privguard')!;
    expect(pg.args).toEqual(['run', '-c', '/etc/privguard/policy.yaml']);
    expect(pg.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(pg.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(pg.ports).toContainEqual({ name: 'metrics', containerPort: 9464 });
    expect(pg.securityContext?.runAsNonRoot).toBe(true);
    expect(pg.volumeMounts).toContainEqual({ name: 'policy', mountPath: '/etc/privguard', readOnly: true });
    expect(pod.spec.volumes.find((v) => v.name === 'policy')?.configMap?.name).toBe('privguard-policy');
    expect(pod.spec.volumes.find((v) => v.name === 'upstream-secret')?.secret?.secretName).toBe(byKind('Secret').metadata.name);
    const secretRef = pg.env?.find((e) => e.name === 'COMPONENT_SECRET')?.valueFrom?.secretKeyRef;
    expect(secretRef).toEqual({ name: 'privguard-secrets', key: 'component-secret' });
  });
});

describe('deploy/systemd and the Dockerfile', () => {
  it('the unit runs the built CLI as a non-root user and reloads with SIGHUP', () => {
    const unit = readFileSync('deploy/systemd/privguard.service', 'utf8');
    expect(unit).toMatch(/^User=privguard$/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node --max-semi-space-size=2 \/opt\/privguard\/dist\/src\/cli\.js run -c \/etc\/privguard\/policy\.yaml$/m);
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  });

  it('the image builds with the same script as npm ci and runs the same CLI file as the package\'s bin', () => {
    const docker = readFileSync('Dockerfile', 'utf8');
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
    expect(pkg.scripts.prepare).toBe(pkg.scripts.build);
    expect(docker).toContain('npm run build');
    expect(docker).toContain(`ENTRYPOINT ["node", "--max-semi-space-size=2", "/app/${pkg.bin.privguard}"]`);
    expect(docker).toMatch(/^USER node$/m);
    expect(docker).toMatch(/^HEALTHCHECK /m);
    // the probe is the same CLI's `health` command (tested in test/cli/conventions.test.ts: /healthz when metrics are on)
    expect(docker).toContain(`CMD ["node", "/app/${pkg.bin.privguard}", "health", "--timeout", "3000"]`);
    // run and health both find the policy through $PRIVGUARD_CONFIG
    expect(docker).toMatch(/^ENV .*PRIVGUARD_CONFIG=\/etc\/privguard\/policy\.yaml/m);
    expect(docker).toMatch(/^CMD \["run"\]$/m);
  });

  it('every launcher gives node the same young-generation cap (V8 reads it only at start)', () => {
    const flag = '--max-semi-space-size=2';
    expect(readFileSync('src/cli.ts', 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${flag}`);
    expect(readFileSync('Dockerfile', 'utf8')).toContain(`"node", "${flag}"`);
    expect(readFileSync('deploy/systemd/privguard.service', 'utf8')).toContain(`/usr/bin/node ${flag} `);
  });
});
