/**
 * Which policy file a command uses: `-c FILE`, else $PRIVGUARD_CONFIG, else
 * /etc/privguard/policy.yaml. The choice is reported with its origin, so an
 * admin never wonders which file was read.
 */
export const DEFAULT_POLICY_FILE = '/etc/privguard/policy.yaml';

export interface PolicyLocation {
  file: string;
  from: '-c' | '$PRIVGUARD_CONFIG' | 'default';
}

export function locatePolicy(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): PolicyLocation {
  if (flag !== undefined && flag !== '') return { file: flag, from: '-c' };
  const fromEnv = env.PRIVGUARD_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return { file: fromEnv, from: '$PRIVGUARD_CONFIG' };
  return { file: DEFAULT_POLICY_FILE, from: 'default' };
}

export function describeLocation(l: PolicyLocation): string {
  const why = l.from === '-c' ? 'given with -c' : l.from === 'default' ? 'the default; choose another with -c or $PRIVGUARD_CONFIG' : 'from $PRIVGUARD_CONFIG';
  return `policy file ${l.file} (${why})`;
}

/** Help text of every command's -c option. */
export const CONFIG_OPTION_HELP = `policy file (YAML); default: $PRIVGUARD_CONFIG, then ${DEFAULT_POLICY_FILE}`;
