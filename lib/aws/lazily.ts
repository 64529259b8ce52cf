// Loads something on first use, once, and tries again on the next use if loading failed.

/** `load` runs on the first call; later calls share its promise, unless it rejected. */
export function lazily<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}
