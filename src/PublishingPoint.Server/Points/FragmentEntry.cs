using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Archive;

namespace PublishingPoint.Server.Points;

/// <summary>One part of an indexed fragment: its number of samples, its duration (track timescale), whether it starts with a sync sample.</summary>
public readonly record struct PartLayout(int Samples, long Duration, bool Independent);

/// <summary>
/// One indexed fragment (moof+mdat as the encoder sent it) and where its bytes are. Inside the memory window it holds
/// the bytes, the 'traf' layout and the sample table parsed at ingest (decode times on the track's timeline, data
/// offsets into the fragment); outside it only the offset and the facts playlists need, and a repackaging parses the
/// 'traf' and the table again from the bytes it reads (the same rule as ingest), so the index of a long event costs
/// the same per fragment whatever its encoder sent, and as little as it can: a 24/7 channel keeps every entry.
/// </summary>
public sealed class FragmentEntry
{
    // Inside the memory window only: one reference in every entry instead of three (the index of a long event is mostly
    // entries outside it).
    private Held? _held;

    /// <param name="data">The bytes, of which the entry takes a reference of its own (released when it leaves the memory window).</param>
    /// <param name="kept">Where the bytes kept in memory are counted (their point's).</param>
    public FragmentEntry(long time, long duration, TrackFragment traf, FragmentSample[] samples, StreamArchive archive, long archiveOffset, int length, FragmentBuffer? data,
        KeptFragmentBytes? kept = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        Time = time;
        Duration = duration;
        ArgumentNullException.ThrowIfNull(traf);
        SampleCount = traf.SampleCount;
        Archive = archive;
        ArchiveOffset = archiveOffset;
        Length = length;
        FirstSampleIsSync = samples is [{ IsSync: true }, ..];
        FirstSampleSize = samples is [var first, ..] ? first.Size : 0;
        if (data is not null && !data.TryRetain())
        {
            throw new ArgumentException("the fragment's buffer was already released", nameof(data));
        }

        // Without the bytes (an archive recovered) the layout and the table are not kept either.
        _held = data is null ? null : new Held(data, traf, samples, kept);
        kept?.Add(data is null ? 0 : data.Array.Length + _held!.CountedTableBytes);
    }

    /// <summary>
    /// The part of a sample table kept in memory that counts with the bytes against the memory bounds: a real
    /// fragment's table (a few hundred samples) is free, but a fragment of a quarter of a million 1-byte samples would
    /// keep 8 MB of table beside its 256 KB.
    /// </summary>
    internal const long FreeTableBytes = 64 * 1024;

    public long Time { get; }

    public long Duration { get; }

    public long End => Time + Duration;

    /// <summary>Samples in the fragment.</summary>
    public int SampleCount { get; }

    /// <summary>
    /// Layout of the single 'traf', for rewriting the fragment for players: kept in the memory window, parsed again
    /// from <paramref name="bytes"/> (this fragment's, from <see cref="RentAsync"/>) outside it.
    /// </summary>
    public TrackFragment TrafIn(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return Volatile.Read(ref _held)?.Traf ?? ReadTraf(bytes.AsSpan(0, Length));
    }

    /// <summary>
    /// Every sample, in decode order: every output is written from these. Outside the memory window each read parses the
    /// fragment's 'moof' again from the archive (a blocking read of a few KB): a repackaging that has the fragment's
    /// bytes already asks <see cref="SamplesIn"/> instead.
    /// </summary>
    public FragmentSample[] Samples => Volatile.Read(ref _held)?.Samples ?? ReadSamples();

    /// <summary>The samples, parsed from <paramref name="bytes"/> (this fragment's, from <see cref="RentAsync"/>) when not in memory.</summary>
    public FragmentSample[] SamplesIn(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (Volatile.Read(ref _held)?.Samples is { } held)
        {
            return held;
        }

        var traf = TrafIn(bytes);
        return FragmentTiming.Samples(bytes.AsSpan(0, Length), Length, traf, Trex(traf.TrackId), Time);
    }

    public bool FirstSampleIsSync { get; }

    public int FirstSampleSize { get; }

    public StreamArchive Archive { get; }

    public long ArchiveOffset { get; }

    /// <summary>
    /// Listed before its fsync (a low-latency segment, whose parts were served) and then lost with the archive's
    /// unsynced end when that fsync failed twice: never read again; playlists mark it EXT-X-GAP.
    /// </summary>
    public bool Lost => ArchiveOffset >= Archive.CutAt;

    public int Length { get; }

    /// <summary>True when the encoder restarted or skipped time right before this fragment.</summary>
    public bool Discontinuity { get; init; }

    /// <summary>The segment number, from media time (<see cref="SegmentNumbering"/>); set when the track indexes it.</summary>
    public long Sequence { get; internal set; }

    /// <summary>
    /// Where this fragment's segment ends when <paramref name="next"/> follows it: its own end, or the next fragment's
    /// start where that comes sooner (an overlap of a rounded duration). Never later than its own end: a next fragment
    /// that starts after a gap (dropped frames, a looped playout) must not lengthen a segment a playlist already lists
    /// (RFC 8216 6.2.1), nor give it other bytes (audio of the gap) than those it was first made with.
    /// </summary>
    public long SegmentEnd(FragmentEntry? next) =>
        next is not null && !next.Discontinuity && next.Time > Time ? Math.Min(next.Time, End) : End;

    /// <summary>
    /// Discontinuities the track has had up to this fragment, this one included: a discontinuity right after the
    /// segment numbered before it (not after a gap in numbering, which an origin that has the missing segments would
    /// not see). Counted from the track's first fragment and kept when older ones are pruned, so a playlist's
    /// discontinuity sequence never goes back and a render needs only its window. Set when the track indexes it.
    /// </summary>
    public long DiscontinuitiesThrough
    {
        get => _discontinuitiesThrough;
        // One a fragment at most: an int lasts a 25 fps all-keyframe encoder for 2.7 years.
        internal set => _discontinuitiesThrough = (int)Math.Min(value, int.MaxValue);
    }

    private int _discontinuitiesThrough;

    /// <summary>The longest segment (track timescale) among those before this one, pruned ones included. Set when indexed.</summary>
    public long LongestBefore { get; internal set; }

    /// <summary>
    /// When the fragment was gathered from low-latency chunks: each chunk (LL-HLS part) in order. The parts are served
    /// again from the fragment's samples, byte for byte as they were while the segment was open.
    /// </summary>
    public IReadOnlyList<PartLayout>? Parts { get; internal set; }

    /// <summary>Where the keyframe ends in this fragment's TS segment (an I-frame playlist's byte range), once computed.</summary>
    public int? TsKeyframeEnd
    {
        get => Volatile.Read(ref _tsKeyframeEnd) is var end and > 0 ? end : null;
        set => Volatile.Write(ref _tsKeyframeEnd, value ?? 0);
    }

    private int _tsKeyframeEnd;

    /// <summary>True while the fragment is inside the memory window; false once evicted (read from the archive).</summary>
    public bool IsInMemory => Volatile.Read(ref _held) is not null;

    /// <summary>
    /// Bytes of the array this fragment holds in memory (its pool's size class) and of a sample table that counts, 0
    /// outside the memory window or once dropped.
    /// </summary>
    public long BytesInMemory => Volatile.Read(ref _held) is { } held ? (held.Data?.Array.Length ?? 0) + held.CountedTableBytes : 0;

    /// <summary>Leaves the memory window: the bytes and the sample table are dropped (read from the archive from now on).</summary>
    internal void Evict() => Interlocked.Exchange(ref _held, null)?.ReleaseAll();

    /// <summary>
    /// Drops the bytes but keeps the layout and the sample table (a bound on kept bytes, <see cref="FragmentMemory"/>):
    /// the bytes are read from the archive from now on; a table that counts (<see cref="FreeTableBytes"/>) goes with
    /// them. Returns the bytes dropped, as counted.
    /// </summary>
    internal long DropBytes()
    {
        var held = Volatile.Read(ref _held);
        while (held is not null && (held.Data is not null || held.CountedTableBytes > 0))
        {
            var whole = held.CountedTableBytes > 0;
            var seen = Interlocked.CompareExchange(ref _held, whole ? null : held with { Data = null }, held);
            if (ReferenceEquals(seen, held))
            {
                var dropped = held.Data?.Array.Length ?? 0;
                if (whole)
                {
                    held.ReleaseAll();
                    return dropped + held.CountedTableBytes;
                }

                held.ReleaseData();
                return dropped;
            }

            held = seen;
        }

        return 0;
    }

    /// <summary>Where the I-frame ends in this fragment's fMP4 segment, once computed.</summary>
    public long? Fmp4KeyframeEnd
    {
        get => Volatile.Read(ref _fmp4KeyframeEnd) is var end and > 0 ? end : null;
        // An offset past 2 GB (no real segment) is not kept: it is computed again when asked for.
        set => Volatile.Write(ref _fmp4KeyframeEnd, value is > 0 and <= int.MaxValue ? (int)value.Value : 0);
    }

    private int _fmp4KeyframeEnd;

    /// <summary>The TS segment size estimate of this fragment (BANDWIDTH), once computed from a complete interval.</summary>
    public double? TsBytesEstimate
    {
        get => Volatile.Read(ref _tsBytes) is var bytes and > 0 ? bytes : null;
        set => Volatile.Write(ref _tsBytes, (float)(value ?? 0));
    }

    // A float: an estimate, and four bytes of every entry of a long event's index.
    private float _tsBytes;

    private FragmentSample[] ReadSamples()
    {
        Span<byte> header = stackalloc byte[16];
        var head = header[..Math.Min(16, Length)];
        Archive.Read(ArchiveOffset, head);
        if (!BoxHeader.TryRead(head, out var moof) || moof.Type != BoxTypes.Moof || moof.Size > Length)
        {
            throw new InvalidDataException($"archive {Archive.FileName} holds no 'moof' at offset {ArchiveOffset}");
        }

        var size = (int)moof.Size;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var moofBytes = buffer.AsSpan(0, size);
            Archive.Read(ArchiveOffset, moofBytes);
            var traf = Volatile.Read(ref _held)?.Traf ?? ReadTraf(moofBytes);
            return FragmentTiming.Samples(moofBytes, Length, traf, Trex(traf.TrackId), Time);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // The archive holds each fragment as indexed: one 'traf' (ingest splits multi-track ones), read with the track's 'trex'.
    private TrackFragment ReadTraf(ReadOnlySpan<byte> fragment)
    {
        if (!BoxHeader.TryRead(fragment, out var moof) || moof.Type != BoxTypes.Moof || moof.Size > fragment.Length)
        {
            throw new InvalidDataException($"archive {Archive.FileName} holds no 'moof' at offset {ArchiveOffset}");
        }

        return MovieFragmentReader.Read(fragment[..(int)moof.Size], Trex)[0];
    }

    // The track's 'trex' sample defaults (under the fragment's 'tfhd' ones), from the header of the archive the fragment
    // is in: the same 'moov' the ingest read them from (a changed one starts another archive), so no entry keeps a copy.
    private SampleDefaults Trex(uint trackId) => Archive.Header.SampleDefaultsOf(trackId);

    /// <summary>
    /// The bytes for the time it takes to repackage them (dispose after): the array in memory, or the archive's bytes in
    /// a pooled buffer, so a segment made from the older window allocates nothing for its input.
    /// </summary>
    public async ValueTask<FragmentBytes> RentAsync(CancellationToken cancellationToken)
    {
        // Evicted between the read and the retain: the array is no longer this fragment's, the archive is.
        if (Volatile.Read(ref _held)?.Data is { } data && data.TryRetain())
        {
            return new FragmentBytes(data.Array, data);
        }

        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Length);
        try
        {
            await Archive.ReadAsync(ArchiveOffset, buffer.AsMemory(0, Length), cancellationToken).ConfigureAwait(false);
            return new FragmentBytes(buffer, null);
        }
        catch
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>What an entry holds while inside the memory window: the bytes (until dropped), their 'traf' layout and sample table.</summary>
    private sealed record Held(FragmentBuffer? Data, TrackFragment Traf, FragmentSample[] Samples, KeptFragmentBytes? Kept)
    {
        public long CountedTableBytes => Math.Max(0, FragmentSample.TableBytes(Samples.Length) - FreeTableBytes);

        public void ReleaseData()
        {
            if (Data is not null)
            {
                Data.Release();
                Kept?.Add(-Data.Array.Length);
            }
        }

        public void ReleaseAll()
        {
            ReleaseData();
            Kept?.Add(-CountedTableBytes);
        }
    }
}

/// <summary>
/// A fragment's bytes lent for repackaging: <see cref="Array"/> may be longer than the fragment. Either a reference to
/// the bytes in memory (<paramref name="shared"/>) or an array read from the archive into the shared array pool.
/// </summary>
public readonly struct FragmentBytes(byte[] array, FragmentBuffer? shared) : IDisposable
{
    public byte[] Array => array;

    public void Dispose()
    {
        if (shared is not null)
        {
            shared.Release();
        }
        else if (array is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(array);
        }
    }
}
