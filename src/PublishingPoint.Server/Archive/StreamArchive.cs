using Microsoft.Win32.SafeHandles;
using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Server.Archive;

/// <summary>
/// One .ismv archive file: the encoder's header (ftyp, ISML manifest, moov) then every accepted
/// moof+mdat as it arrived, appended and flushed before the fragment is indexed; an 'mfra' index is
/// appended when the stream ends and cut off again if the stream continues.
/// </summary>
public sealed class StreamArchive : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, List<RandomAccessEntry>> _randomAccess = [];
    private readonly bool _fsync;
    private readonly SafeFileHandle _readHandle;
    private FileStream? _writer;
    private long _length;
    private long? _mfraOffset;

    private StreamArchive(string path, FileStream writer, long length, bool fsync, ArchiveHeader header)
    {
        FilePath = path;
        Header = header;
        _writer = writer;
        _length = length;
        _fsync = fsync;
        _readHandle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
    }

    public string FilePath { get; }

    public string FileName => Path.GetFileName(FilePath);

    public ArchiveHeader Header { get; }

    /// <summary>Media seconds of the first fragment this file holds, and the end of its last one (NaN until known).</summary>
    public double FirstSeconds { get; private set; } = double.NaN;

    public double LastEndSeconds { get; private set; } = double.NaN;

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

    /// <summary>Creates a new archive and writes the header durably.</summary>
    public static StreamArchive Create(string path, ArchiveHeader header, bool fsync)
    {
        ArgumentNullException.ThrowIfNull(header);
        var writer = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete, 1, FileOptions.None);
        try
        {
            writer.Write(header.Bytes.Span);
            writer.Flush(fsync);
            return new StreamArchive(path, writer, header.Bytes.Length, fsync, header);
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens an existing archive for appending after its last complete fragment (the caller found it by
    /// scanning); anything after that point (a torn fragment, an old mfra) is cut off.
    /// </summary>
    public static StreamArchive OpenRecovered(string path, ArchiveHeader header, long validLength, long? mfraOffset, bool fsync,
        IEnumerable<(uint TrackId, RandomAccessEntry Entry)> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var writer = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read | FileShare.Delete, 1, FileOptions.None);
        try
        {
            if (writer.Length != validLength)
            {
                writer.SetLength(validLength);
                writer.Flush(fsync);
            }

            writer.Position = validLength;
            var archive = new StreamArchive(path, writer, validLength, fsync, header);
            foreach (var (trackId, entry) in entries)
            {
                archive.TrackEntries(trackId).Add(entry);
            }

            archive._mfraOffset = mfraOffset;
            return archive;
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    /// <summary>Appends one fragment and returns its offset; durable on return when fsync is on.</summary>
    public long Append(ReadOnlySpan<byte> fragment, uint trackId, long time)
    {
        lock (_lock)
        {
            var writer = _writer ?? throw new ObjectDisposedException(FilePath);
            ReopenLocked(writer);
            var offset = _length;
            try
            {
                writer.Write(fragment);
                writer.Flush(_fsync);
            }
            catch
            {
                // Leave no torn fragment behind: the index never saw it, the file must not keep it either.
                writer.SetLength(offset);
                writer.Position = offset;
                throw;
            }

            _length += fragment.Length;
            TrackEntries(trackId).Add(new RandomAccessEntry(time, offset));
            return offset;
        }
    }

    /// <summary>Appends the 'mfra' index (idempotent: does nothing when it is already there).</summary>
    public void WriteMfra()
    {
        lock (_lock)
        {
            var writer = _writer;
            if (writer is null || _mfraOffset is not null)
            {
                return;
            }

            var tracks = new List<(uint, IReadOnlyList<RandomAccessEntry>)>();
            foreach (var (trackId, entries) in _randomAccess)
            {
                tracks.Add((trackId, entries));
            }

            var mfra = MfraWriter.Write(tracks);
            writer.Write(mfra);
            writer.Flush(_fsync);
            _mfraOffset = _length;
            _length += mfra.Length;
        }
    }

    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < destination.Length)
        {
            var read = await RandomAccess.ReadAsync(_readHandle, destination[total..], offset + total, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException($"archive {FileName} ends before offset {offset + destination.Length}");
            }

            total += read;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _writer?.Dispose();
            _writer = null;
        }

        _readHandle.Dispose();
    }

    private void ReopenLocked(FileStream writer)
    {
        if (_mfraOffset is { } mfra)
        {
            writer.SetLength(mfra);
            writer.Position = mfra;
            writer.Flush(_fsync);
            _length = mfra;
            _mfraOffset = null;
        }
    }

    private List<RandomAccessEntry> TrackEntries(uint trackId)
    {
        if (!_randomAccess.TryGetValue(trackId, out var list))
        {
            list = [];
            _randomAccess[trackId] = list;
        }

        return list;
    }
}
