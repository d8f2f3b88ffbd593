'use strict';

const fs = require('node:fs');
const os = require('node:os');

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const CGROUP_V1_UNLIMITED = 2 ** 60; // v1 reports "no limit" as a huge page-aligned number

function readText(path) {
  try {
    return fs.readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

function formatCpus(cpus) {
  return `${Number(cpus.toFixed(3))} CPU`;
}

// The Deployment passes limits through the downward API (resourceFieldRef): MEMORY_LIMIT in
// bytes, CPU_LIMIT in millicores. Without them, the cgroup files are read (v2, then v1).
function memoryLimit(env, root) {
  if (/^\d+$/.test(env.MEMORY_LIMIT || '')) {
    return { value: formatBytes(Number(env.MEMORY_LIMIT)), source: 'downward API' };
  }
  const v2 = readText(`${root}/memory.max`);
  if (v2 !== null) {
    return { value: v2 === 'max' ? 'unlimited' : formatBytes(Number(v2)), source: 'cgroup v2' };
  }
  const v1 = readText(`${root}/memory/memory.limit_in_bytes`);
  if (v1 !== null) {
    const bytes = Number(v1);
    return { value: bytes >= CGROUP_V1_UNLIMITED ? 'unlimited' : formatBytes(bytes), source: 'cgroup v1' };
  }
  return { value: 'unknown', source: 'none' };
}

function cpuLimit(env, root) {
  if (/^\d+$/.test(env.CPU_LIMIT || '')) {
    return { value: formatCpus(Number(env.CPU_LIMIT) / 1000), source: 'downward API' };
  }
  const v2 = readText(`${root}/cpu.max`);
  if (v2 !== null) {
    const [quota, period] = v2.split(/\s+/);
    return {
      value: quota === 'max' ? 'unlimited' : formatCpus(Number(quota) / Number(period)),
      source: 'cgroup v2',
    };
  }
  const quota = readText(`${root}/cpu/cpu.cfs_quota_us`);
  const period = readText(`${root}/cpu/cpu.cfs_period_us`);
  if (quota !== null && period !== null) {
    return {
      value: Number(quota) < 0 ? 'unlimited' : formatCpus(Number(quota) / Number(period)),
      source: 'cgroup v1',
    };
  }
  return { value: 'unknown', source: 'none' };
}

function describeContainer(env = process.env, cgroupRoot = '/sys/fs/cgroup') {
  return {
    hostname: os.hostname(),
    pod: env.POD_NAME || env.HOSTNAME || null,
    namespace: env.POD_NAMESPACE || readText(SA_NAMESPACE_FILE),
    nodeName: env.NODE_NAME || null,
    serviceAccount: env.SERVICE_ACCOUNT_NAME || null,
    os: `${os.type()} ${os.release()} (${process.platform}/${process.arch})`,
    nodeVersion: process.version,
    user: typeof process.getuid === 'function' ? `${process.getuid()}:${process.getgid()}` : null,
    memoryLimit: memoryLimit(env, cgroupRoot),
    cpuLimit: cpuLimit(env, cgroupRoot),
    uptimeSeconds: Math.round(process.uptime()),
  };
}

module.exports = { describeContainer, formatBytes };
