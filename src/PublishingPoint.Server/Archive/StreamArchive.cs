using System.Buffers;
using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Server.Archive;

/// <summary>
/// One .ismv archive file: the encoder's header (ftyp, ISML manifest, moov) then every accepted moof+mdat as it
/// arrived, appended and flushed before the fragment is indexed; an 'mfra' index is appended when the run ends and
/// cut off again if the stream continues in this file. A writer is open only while the file is being written (a
/// finished run is sealed); reads go through the shared <see cref="ArchiveFiles"/> handles.
/// </summary>
public sealed class StreamArchive : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, List<RandomAccessEntry>> _randomAccess = [];
    private readonly bool _fsync;
    private readonly ArchiveFiles _files;
    private FileStream? _writer;
    private bool _disposed;
    private long _length;
    private long _syncedLength;
    private long _recoveredSyncs;
    private readonly List<(byte[] Array, int Length)> _unsynced = [];
    private long? _mfraOffset;
    private int _mostFragments;

    private StreamArchive(string path, FileStream? writer, long length, bool fsync, ArchiveHeader header, ArchiveFiles files)
    {
        FilePath = path;
        _handleKey = path + "|" + Interlocked.Increment(ref _archives).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Header = header;
        _writer = writer;
        _length = length;
        _syncedLength = length;
        _fsync = fsync;
        _files = files;
    }

    public string FilePath { get; }

    public string FileName => Path.GetFileName(FilePath);

    /// <summary>Bytes of the file written so far.</summary>
    public long Length => Volatile.Read(ref _length);

    public ArchiveHeader Header { get; }

    /// <summary>Media seconds of the first fragment this file holds, and the end of its last one (NaN until known).</summary>
    public double FirstSeconds { get; private set; } = double.NaN;

    public double LastEndSeconds { get; private set; } = double.NaN;

    /// <summary>True while a writer is open on the file (it is being appended to).</summary>
    public bool IsOpenForWriting
    {
        get
        {
            lock (_lock)
            {
                return _writer is not null;
            }
        }
    }

    /// <summary>Widens the media span this file is known to hold.</summary>
    public void Observe(double startSeconds, double endSeconds)
    {
        lock (_lock)
        {
            FirstSeconds = double.IsNaN(FirstSeconds) ? startSeconds : Math.Min(FirstSeconds, startSeconds);
            LastEndSeconds = double.IsNaN(LastEndSeconds) ? endSeconds : Math.Max(LastEndSeconds, endSeconds);
        }
    }

    public bool IsFinalized
    {
        get
        {
            lock (_lock)
            {
                return _mfraOffset is not null;
            }
        }
    }

    /// <summary>Creates a new archive and writes the header durably (the file and its folder entry).</summary>
    public static StreamArchive Create(string path, ArchiveHeader header, bool fsync, ArchiveFiles files)
    {
        ArgumentNullException.ThrowIfNull(header);
        var writer = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete, 1, FileOptions.None);
        try
        {
            writer.Write(header.Bytes.Span);
            writer.Flush(fsync);
            if (fsync)
            {
                Durable.SyncDirectory(Path.GetDirectoryName(path)!);
            }

            return new StreamArchive(path, writer, header.Bytes.Length, fsync, header, files);
        }
        catch
        {
            writer.Dispose();
            File.Delete(path);
            throw;
        }
    }

    /// <summary>
    /// An existing archive read back at start-up, whose complete fragments end at <paramref name="validLength"/> (its
    /// 'mfra' starts there when it has one). Nothing is opened or changed until a fragment is read or appended.
    /// </summary>
    public static StreamArchive OpenRecovered(string path, ArchiveHeader header, long validLength, long? mfraOffset, bool fsync, ArchiveFiles files,
        IEnumerable<(uint TrackId, RandomAccessEntry Entry)> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var archive = new StreamArchive(path, null, validLength, fsync, header, files);
        foreach (var (trackId, entry) in entries)
        {
            archive.AddEntryLocked(trackId, entry);
        }

        archive._mfraOffset = mfraOffset;
        return archive;
    }

    /// <summary>Appends one fragment and returns its offset; durable on return when fsync is on.</summary>
    /// <param name="sync">
    /// Flush to the disk before returning (with fsync on). False leaves the bytes in the page cache (a crash of the
    /// process keeps them, a power cut may not) until <see cref="Sync"/>, which the caller must call next; a copy is
    /// kept until then, to write them again if that fsync fails.
    /// </param>
    /// <exception cref="IOException">The fragment could not be written and made durable (the file ends before it again).</exception>
    public long Append(ReadOnlySpan<byte> fragment, uint trackId, long time, bool sync = true)
    {
        lock (_lock)
        {
            var writer = WriterLocked();
            var offset = _length;
            try
            {
                writer.Write(fragment);
                if (_fsync && sync)
                {
                    SyncLocked(writer, fragment);
                }
                else
                {
                    writer.Flush(false);
                }
            }
            catch
            {
                // Leave no torn fragment behind: the index never saw it, the file must not keep it either. (A failed
                // sync may have cut the file back further: to the end of its last durable fragment.)
                RollBackLocked(writer, Math.Min(offset, _length));
                throw;
            }

            if (_fsync && !sync)
            {
                _unsynced.Add(CopyOf(fragment));
            }

            _length += fragment.Length;
            AddEntryLocked(trackId, new RandomAccessEntry(time, offset));
            return offset;
        }
    }

    /// <summary>The fragments of the track this file holds most of (an audio track may have many per video fragment).</summary>
    public int MostFragmentsOfATrack => Volatile.Read(ref _mostFragments);

    private long _parts;

    /// <summary>Low-latency parts of the fragments written here, all tracks together (each part's layout is in the index).</summary>
    public long PartsIndexed => Interlocked.Read(ref _parts);

    public void NoteParts(int count) => Interlocked.Add(ref _parts, count);

    /// <summary>
    /// Flushes what <see cref="Append"/> left in the page cache to the disk (with fsync on). A file sealed meanwhile (a
    /// rollover between the append and this call) was flushed by its seal: it is not opened again, which would cut
    /// its 'mfra' off.
    /// </summary>
    /// <exception cref="IOException">
    /// The fsync failed twice (see <see cref="SyncLocked"/>): the fragments appended since the last good one are cut
    /// off the file and out of its random-access index.
    /// </exception>
    public void Sync()
    {
        lock (_lock)
        {
            if (_fsync && !_disposed && _writer is { } writer)
            {
                SyncLocked(writer, []);
            }
        }
    }

    /// <summary>
    /// True once a second failed fsync cut fragments off the file: it takes no more (<see cref="Append"/> throws), and
    /// the stream's next fragment rolls over to a new file.
    /// </summary>
    public bool WasCut { get; private set; }

    /// <summary>Where the cut was (<see cref="long.MaxValue"/> while there was none): fragments from here on were lost.</summary>
    public long CutAt { get; private set; } = long.MaxValue;

    /// <summary>Fsyncs that failed and were followed by the unsynced bytes written again from memory and a good fsync.</summary>
    public long RecoveredSyncs
    {
        get
        {
            lock (_lock)
            {
                return _recoveredSyncs;
            }
        }
    }

    /// <summary>
    /// An fsync, and what to do when it fails. On Linux a failed fsync (EIO) marks the pages it could not write clean:
    /// a second fsync reports success and the bytes are gone. So the bytes written since the last good fsync (the
    /// copies of those appended without a sync, then <paramref name="current"/>, being appended) are written again
    /// from memory and fsynced once more. When that fails too, the unsynced fragments are cut off the file and its
    /// index: after the throw the file ends at its last durable fragment, as a restart would find it.
    /// </summary>
    private void SyncLocked(FileStream writer, ReadOnlySpan<byte> current)
    {
        try
        {
            Flush(writer);
            MarkSyncedLocked(writer.Position);
            return;
        }
        catch (IOException)
        {
        }

        try
        {
            writer.SetLength(_syncedLength);
            writer.Position = _syncedLength;
            foreach (var copy in _unsynced)
            {
                writer.Write(copy.Array, 0, copy.Length);
            }

            writer.Write(current);
            Flush(writer);
            _recoveredSyncs++;
            MarkSyncedLocked(writer.Position);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            RollBackLocked(writer, _syncedLength);
            ForgetUnsyncedLocked();
            throw;
        }
    }

    private void Flush(FileStream writer)
    {
        writer.Flush(false);
        if (_files.SyncFault?.Invoke(FilePath, _syncedLength) == true)
        {
            throw new IOException($"fsync of {FileName} failed (injected fault)");
        }

        writer.Flush(true);
    }

    private void MarkSyncedLocked(long length)
    {
        _syncedLength = length;
        foreach (var copy in _unsynced)
        {
            ArrayPool<byte>.Shared.Return(copy.Array);
        }

        _unsynced.Clear();
    }

    // The unsynced fragments are gone from the file: their random-access entries (the mfra's) go too. The file takes no
    // more fragments: the index may still list the cut ones (listed before their fsync), whose offsets new fragments
    // would take, so a read of one would return another's bytes. The stream rolls over to a new file instead.
    private void ForgetUnsyncedLocked()
    {
        WasCut = true;
        CutAt = Math.Min(CutAt, _syncedLength);
        foreach (var list in _randomAccess.Values)
        {
            list.RemoveAll(e => e.MoofOffset >= _syncedLength);
        }

        _length = _syncedLength;
        MarkSyncedLocked(_syncedLength);
    }

    private static (byte[] Array, int Length) CopyOf(ReadOnlySpan<byte> fragment)
    {
        var array = ArrayPool<byte>.Shared.Rent(fragment.Length);
        fragment.CopyTo(array);
        return (array, fragment.Length);
    }

    /// <summary>Appends the 'mfra' index (idempotent: does nothing when it is already there).</summary>
    public void WriteMfra()
    {
        lock (_lock)
        {
            if (_mfraOffset is not null || _disposed)
            {
                return;
            }

            var tracks = new List<(uint, IReadOnlyList<RandomAccessEntry>)>();
            foreach (var (trackId, entries) in _randomAccess)
            {
                tracks.Add((trackId, entries));
            }

            var mfra = MfraWriter.Write(tracks);
            var writer = WriterLocked(index: true);
            try
            {
                writer.Write(mfra);
                if (_fsync)
                {
                    SyncLocked(writer, mfra);
                }
                else
                {
                    writer.Flush(false);
                }
            }
            catch
            {
                // A half-written or unsynced index is worse than none: the file ends at its last fragment again.
                RollBackLocked(writer, _length);
                throw;
            }

            _mfraOffset = _length;
            _length += mfra.Length;
        }
    }

    /// <summary>The run in this file is over: its index is written and its writer closed (reopened if the stream continues here).</summary>
    public void Seal()
    {
        // One hold of the lock: an append between the index and the close (another encoder of the stream, a late write
        // of a finalised point) would cut the index off, and its deferred fsync would then find no writer to sync.
        lock (_lock)
        {
            WriteMfra();
            _writer?.Dispose();
            _writer = null;
        }
    }

    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        using var lease = Lease();
        var total = 0;
        while (total < destination.Length)
        {
            var read = await RandomAccess.ReadAsync(lease.Handle, destination[total..], offset + total, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                // Cut there after a failed fsync (or shortened under the server): that fragment is no longer kept.
                throw new ArchiveGoneException($"archive {FileName} ends before offset {offset + destination.Length}");
            }

            total += read;
        }
    }

    /// <summary>The same, blocking: for a few bytes (a fragment's 'moof'), which the page cache almost always holds.</summary>
    public void Read(long offset, Span<byte> destination)
    {
        using var lease = Lease();
        var total = 0;
        while (total < destination.Length)
        {
            var read = RandomAccess.Read(lease.Handle, destination[total..], offset + total);
            if (read == 0)
            {
                // Cut there after a failed fsync (or shortened under the server): that fragment is no longer kept.
                throw new ArchiveGoneException($"archive {FileName} ends before offset {offset + destination.Length}");
            }

            total += read;
        }
    }

    // A disposed archive's file is gone or moved (a point deleted, restarted on reconnect, pruned): its path may already
    // be a new archive's, whose bytes must not be read at this one's offsets. Looked at again after the handle is taken,
    // as the disposal may come between; its handle then goes with it.
    private ArchiveFiles.Lease Lease()
    {
        if (Volatile.Read(ref _disposed))
        {
            throw new ArchiveGoneException($"archive {FileName} is no longer kept");
        }

        ArchiveFiles.Lease lease;
        try
        {
            lease = _files.Acquire(_handleKey, FilePath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArchiveGoneException($"archive {FileName} is no longer kept", e);
        }

        if (Volatile.Read(ref _disposed))
        {
            lease.Dispose();
            _files.Forget(_handleKey);
            throw new ArchiveGoneException($"archive {FileName} is no longer kept");
        }

        return lease;
    }

    private static long _archives;

    // Handles are kept per archive, not per path (see ArchiveFiles.Acquire).
    private readonly string _handleKey;

    /// <summary>Closes the writer and the read handle (the file is being deleted or the point is going away).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _writer?.Dispose();
            _writer = null;
            MarkSyncedLocked(_syncedLength);
        }

        _files.Forget(_handleKey);
    }

    // The writer, opened again at the end of the fragments when the run was sealed; an 'mfra' there is cut off first.
    private FileStream WriterLocked(bool index = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (WasCut && !index)
        {
            throw new IOException($"archive {FileName} was cut after a failed fsync and takes no more fragments");
        }

        var writer = _writer ??= new FileStream(FilePath, FileMode.Open, FileAccess.Write, FileShare.Read | FileShare.Delete, 1, FileOptions.None);
        if (_mfraOffset is { } mfra)
        {
            writer.SetLength(mfra);
            writer.Flush(_fsync);
            _length = mfra;
            _syncedLength = Math.Min(_syncedLength, mfra);
            _mfraOffset = null;
        }

        writer.Position = _length;
        return writer;
    }

    private static void RollBackLocked(FileStream writer, long length)
    {
        try
        {
            writer.SetLength(length);
            writer.Position = length;
        }
        catch (IOException)
        {
            // The disk refuses even that; the recovery scan stops at the last complete fragment.
        }
    }

    private void AddEntryLocked(uint trackId, RandomAccessEntry entry)
    {
        if (!_randomAccess.TryGetValue(trackId, out var list))
        {
            list = [];
            _randomAccess[trackId] = list;
        }

        list.Add(entry);
        if (list.Count > _mostFragments)
        {
            Volatile.Write(ref _mostFragments, list.Count);
        }
    }
}
