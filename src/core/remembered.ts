// What is computed again and again from the same read-only object (an informer's Deployment, a
// parsed annotation, a published recommendation) is computed once per object: those sources hand
// out a new object when their content changes, so the object itself is the key, and the answer
// goes with it when it is collected.

/** `compute`, remembered per object it is given; the objects and the answers are read only. */
export function rememberedPerObject<Key extends object, Value>(compute: (key: Key) => Value): (key: Key) => Value {
  const answers = new WeakMap<Key, Value>();
  return (key) => {
    if (answers.has(key)) return answers.get(key) as Value;
    const value = compute(key);
    answers.set(key, value);
    return value;
  };
}
