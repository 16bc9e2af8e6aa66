/**
 * `clients` request loops that run while `during` does and stop with it whatever happens: a step
 * that fails must not leave them running after the test (they would keep the test process busy,
 * their failures piling up, and jest would never exit).
 */
export async function underLoad<T>(clients: number, request: (client: number, j: number) => Promise<void>, during: () => Promise<T>): Promise<T> {
  let stop = false;
  const loops = Array.from({ length: clients }, async (_, client) => {
    for (let j = 0; !stop; j++) await request(client, j);
  });
  try {
    return await during();
  } finally {
    stop = true;
    await Promise.all(loops);
  }
}
