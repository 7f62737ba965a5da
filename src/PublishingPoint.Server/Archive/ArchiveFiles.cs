using System.Collections.Concurrent;
using Microsoft.Win32.SafeHandles;

namespace PublishingPoint.Server.Archive;

/// <summary>
/// Read handles of archive files, opened when a fragment is read and kept in a set of at most <see cref="Capacity"/>
/// (the least recently read closed first), so a library of thousands of archives costs a bounded number of file
/// descriptors. A handle in use is never closed under a reader: eviction skips leased handles (the set may then exceed
/// its capacity by the reads in flight, and shrinks back as they end). A read of an open file takes no lock (a count
/// of leases, changed atomically): every segment made from the archive reads through here, and at 200 channels a
/// single lock around the set held up hundreds of reads whenever the thread holding it was preempted.
/// </summary>
public sealed class ArchiveFiles(int capacity) : IDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _open = new(StringComparer.Ordinal);
    private readonly Lock _evicting = new();
    private int _count;

    public int Capacity { get; } = Math.Max(1, capacity);

    public int OpenCount => Volatile.Read(ref _count);

    /// <summary>
    /// Fault injection for tests (a disk that fails on demand needs device-mapper, which test machines lack): called
    /// with an archive's path and the length of it known durable before each fsync; true fails that fsync as a failing
    /// disk's does (EIO). The hook may spoil the bytes past the durable length first, as the pages of a failed fsync
    /// are lost once the kernel drops them.
    /// </summary>
    internal Func<string, long, bool>? SyncFault { get; set; }

    /// <summary>Fault injection for tests: true fails every read of that archive's path as a failing disk's do (EIO).</summary>
    internal Func<string, bool>? ReadFault { get; set; }

    /// <summary>A handle on <paramref name="path"/> for reading; dispose the lease when the read is done.</summary>
    public Lease Acquire(string path) => Acquire(path, path);

    /// <summary>
    /// The same, kept under <paramref name="key"/>: one archive's own (a file that takes its path after it, a new
    /// presentation's, is another archive's and never reads through its handle).
    /// </summary>
    public Lease Acquire(string key, string path)
    {
        if (ReadFault?.Invoke(path) == true)
        {
            throw new IOException($"Input/output error reading {path} (a fault injected by a test)");
        }

        while (true)
        {
            if (_open.TryGetValue(key, out var entry))
            {
                if (entry.TryLease())
                {
                    return new Lease(this, entry);
                }

                // Closed by an eviction between the lookup and the lease: it is leaving the set; open the file again.
                Remove(entry);
                continue;
            }

            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
            var opened = new Entry(key, handle);
            if (!_open.TryAdd(key, opened))
            {
                handle.Dispose(); // another read opened it meanwhile
                continue;
            }

            Interlocked.Increment(ref _count);
            EvictOverCapacity();
            return new Lease(this, opened);
        }
    }

    /// <summary>Closes the handle kept under <paramref name="key"/> (its file is being deleted or replaced): at once, or when its last reader is done.</summary>
    public void Forget(string key)
    {
        if (_open.TryGetValue(key, out var entry))
        {
            Remove(entry);
            entry.Forget();
        }
    }

    public void Dispose()
    {
        foreach (var entry in _open.Values)
        {
            Remove(entry);
            entry.Forget();
        }
    }

    private void Return(Entry entry)
    {
        if (entry.Release() && Volatile.Read(ref _count) > Capacity)
        {
            EvictOverCapacity();
        }
    }

    private void Remove(Entry entry)
    {
        if (_open.TryRemove(new KeyValuePair<string, Entry>(entry.Key, entry)))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    // One eviction at a time, down to nine tenths of the capacity (so that a library read in turn sorts the set once
    // per tenth, not once per read). Only a set over its capacity gets here: the reads of open files never do.
    private void EvictOverCapacity()
    {
        if (Volatile.Read(ref _count) <= Capacity)
        {
            return;
        }

        lock (_evicting)
        {
            if (Volatile.Read(ref _count) <= Capacity)
            {
                return;
            }

            var target = Capacity - (Capacity / 10);
            foreach (var entry in _open.Values.OrderBy(e => e.LastUsed))
            {
                if (Volatile.Read(ref _count) <= target)
                {
                    break;
                }

                if (entry.TryClose())
                {
                    Remove(entry);
                }
            }
        }
    }

    private sealed class Entry(string key, SafeFileHandle handle)
    {
        private const int Closed = -1;

        // Readers holding the handle (the opening read's own lease included); Closed once closed for good.
        private int _leases = 1;
        private volatile bool _forgotten;

        public string Key { get; } = key;

        public SafeFileHandle Handle { get; } = handle;

        public long LastUsed { get; private set; } = Environment.TickCount64;

        public bool TryLease()
        {
            for (var leases = Volatile.Read(ref _leases); leases != Closed; leases = Volatile.Read(ref _leases))
            {
                if (Interlocked.CompareExchange(ref _leases, leases + 1, leases) == leases)
                {
                    LastUsed = Environment.TickCount64;
                    return true;
                }
            }

            return false;
        }

        /// <summary>A reader is done; true when the handle stays open (false: its file was forgotten, and it closed).</summary>
        public bool Release() => Interlocked.Decrement(ref _leases) != 0 || !_forgotten || !TryClose();

        /// <summary>No reader will be let in again: closed now if none holds it, else by the last one's release.</summary>
        public void Forget()
        {
            _forgotten = true;
            TryClose();
        }

        public bool TryClose()
        {
            if (Interlocked.CompareExchange(ref _leases, Closed, 0) != 0)
            {
                return false;
            }

            Handle.Dispose();
            return true;
        }
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
