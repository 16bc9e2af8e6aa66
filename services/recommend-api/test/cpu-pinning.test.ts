import { allowedCpus, coresForWorkers, parseCpuList } from '../src/cpu-pinning.js';

test('parseCpuList reads the kernel\'s CPU lists and rejects anything else', () => {
  expect(parseCpuList('0-1')).toEqual([0, 1]);
  expect(parseCpuList('0,2-3,7\n')).toEqual([0, 2, 3, 7]);
  expect(parseCpuList('3,1,1')).toEqual([1, 3]);
  expect(parseCpuList('0-1,x')).toEqual([]);
  expect(parseCpuList('')).toEqual([]);
});

test('allowedCpus reads Cpus_allowed_list from /proc/self/status', () => {
  const status = 'Name:\tnode\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed_list:\t0\n';
  expect(allowedCpus(status)).toEqual([0, 1]);
  expect(allowedCpus('Name:\tnode\n')).toEqual([]);
});

test('each worker gets a core only when there are exactly as many CPUs as workers', () => {
  expect(coresForWorkers(2, [0, 1])).toEqual([0, 1]);
  expect(coresForWorkers(2, [4, 6])).toEqual([4, 6]);
  expect(coresForWorkers(2, [0, 1, 2, 3])).toBeNull();
  expect(coresForWorkers(4, [0, 1])).toBeNull();
  expect(coresForWorkers(1, [0])).toBeNull();
  expect(coresForWorkers(2, [])).toBeNull();
});
