// reactiveProps makes a props object that component tests can change after
// mount (mount's props are only reactive when they are $state).

export function reactiveProps<T extends object>(initial: T): T {
  const props = $state(initial);
  return props;
}
