import t from 'tap';
import { ExportTree } from '../src/export-tree.js';

// The tree's paths are kept once made (pathOf); a rename or removal anywhere above must show in them at once.
const tree = () =>
  new ExportTree<true>(1n, { check: async () => true, list: async () => [] }, 'the test export');

t.test('a path made once follows a directory renamed above it, a name moved and a name forgotten', async (t) => {
  const x = tree();
  x.record(1n, 'a', 2n);
  x.record(2n, 'b', 3n);
  x.record(3n, 'f', 4n);
  t.equal(x.pathOf(4n), 'a/b/f');
  t.equal(x.pathOf(4n), 'a/b/f', 'asked again');
  t.equal(x.pathOf(1n), '', 'the root');
  x.record(5n, 'g', 6n);
  t.equal(x.pathOf(6n), undefined, 'an object whose directory is not known');
  x.record(1n, 'c', 5n);
  t.equal(x.pathOf(6n), 'c/g', 'known once its directory is');
  x.record(1n, 'renamed', 2n);
  t.equal(x.pathOf(4n), 'renamed/b/f', 'a directory above renamed');
  x.record(5n, 'moved', 4n);
  t.equal(x.pathOf(4n), 'c/moved', 'the object itself moved');
  x.forget(1n, 'c', 5n);
  t.equal(x.pathOf(4n), undefined, 'a directory above forgotten');
  t.equal(x.pathOf(3n), 'renamed/b', 'others stay');
});
