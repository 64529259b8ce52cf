/** A stand-in for an I/O call that counts how often it was made and answers with `answer`. */
export function counting<T>(answer: () => Promise<T>) {
  let calls = 0;
  return {
    run: (): Promise<T> => {
      calls += 1;
      return answer();
    },
    get calls() {
      return calls;
    },
  };
}
