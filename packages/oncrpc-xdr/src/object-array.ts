/**
 * An empty array that V8 already keeps as an array of any values. An array
 * literal `[]` starts as an array of small integers and changes kind (its
 * map) at the first object pushed onto it. Optimised code that pushes onto
 * arrays kept by long-lived objects, compiled while it met only the arrays
 * of the objects made so far (the queues of the connections before), is
 * thrown away when a new object's array reaches it in its first kind, so
 * every new TCP connection sent onData and enqueue back to unoptimised
 * code in the middle of its first calls (deopts "not a Smi", "wrong map").
 * Such an array made here has the kind those pushes give it from the start.
 */
export function objectArray<T>(): T[] {
  const a: T[] = [undefined as T];
  // Emptying an array keeps its kind.
  a.length = 0;
  return a;
}
