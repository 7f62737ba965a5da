using Microsoft.Win32.SafeHandles;

namespace PublishingPoint.Server.Archive;

/// <summary>
/// Read handles of archive files, opened when a fragment is read and kept in a least-recently-used set of at most
/// <see cref="Capacity"/>, so a library of thousands of archives costs a bounded number of file descriptors. A handle
/// in use is never closed under a reader: eviction skips leased handles (the set may then exceed its capacity by the
/// reads in flight, and shrinks back as they end).
/// </summary>
public sealed class ArchiveFiles(int capacity) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _open = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _recency = [];

    public int Capacity { get; } = Math.Max(1, capacity);

    public int OpenCount
    {
        get
        {
            lock (_lock)
            {
                return _open.Count;
            }
        }
    }

    /// <summary>A handle on <paramref name="path"/> for reading; dispose the lease when the read is done.</summary>
    public Lease Acquire(string path)
    {
        lock (_lock)
        {
            if (_open.TryGetValue(path, out var entry))
            {
                _recency.Remove(entry.Node);
                _recency.AddFirst(entry.Node);
                entry.Leases++;
                return new Lease(this, entry);
            }
        }

        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        lock (_lock)
        {
            if (_open.TryGetValue(path, out var raced))
            {
                handle.Dispose();
                raced.Leases++;
                return new Lease(this, raced);
            }

            var entry = new Entry(path, handle) { Leases = 1 };
            entry.Node = _recency.AddFirst(entry);
            _open[path] = entry;
            EvictLocked();
            return new Lease(this, entry);
        }
    }

    /// <summary>Closes the handle of a file that is being deleted or replaced (at once, or when its last reader is done).</summary>
    public void Forget(string path)
    {
        lock (_lock)
        {
            if (_open.Remove(path, out var entry))
            {
                _recency.Remove(entry.Node);
                entry.Forgotten = true;
                if (entry.Leases == 0)
                {
                    entry.Handle.Dispose();
                }
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var entry in _open.Values)
            {
                entry.Handle.Dispose();
            }

            _open.Clear();
            _recency.Clear();
        }
    }

    private void Return(Entry entry)
    {
        lock (_lock)
        {
            entry.Leases--;
            if (entry.Leases == 0 && entry.Forgotten)
            {
                entry.Handle.Dispose();
                return;
            }

            EvictLocked();
        }
    }

    private void EvictLocked()
    {
        var node = _recency.Last;
        while (_open.Count > Capacity && node is not null)
        {
            var previous = node.Previous;
            var entry = node.Value;
            if (entry.Leases == 0)
            {
                _recency.Remove(node);
                _open.Remove(entry.Path);
                entry.Handle.Dispose();
            }

            node = previous;
        }
    }

    private sealed class Entry(string path, SafeFileHandle handle)
    {
        public string Path { get; } = path;

        public SafeFileHandle Handle { get; } = handle;

        public LinkedListNode<Entry> Node { get; set; } = null!;

        public int Leases { get; set; }

        public bool Forgotten { get; set; }
    }

    /// <summary>One reader's use of a handle.</summary>
    public readonly struct Lease : IDisposable
    {
        private readonly ArchiveFiles _owner;
        private readonly Entry _entry;

        internal Lease(ArchiveFiles owner, object entry)
        {
            _owner = owner;
            _entry = (Entry)entry;
        }

        public SafeFileHandle Handle => _entry.Handle;

        public void Dispose() => _owner?.Return(_entry);
    }
}
