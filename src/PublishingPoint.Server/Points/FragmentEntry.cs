using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Archive;

namespace PublishingPoint.Server.Points;

/// <summary>One part of an indexed fragment: its number of samples, its duration (track timescale), whether it starts with a sync sample.</summary>
public readonly record struct PartLayout(int Samples, long Duration, bool Independent);

/// <summary>
/// One indexed fragment (moof+mdat as the encoder sent it), its sample table parsed once at ingest (decode times on
/// the track's timeline, data offsets into the fragment), and where its bytes are.
/// </summary>
public sealed class FragmentEntry
{
    private byte[]? _data;
    private FragmentSample[]? _samples;
    private PackedSamples? _packed;

    public FragmentEntry(long time, long duration, TrackFragment traf, FragmentSample[] samples, StreamArchive archive, long archiveOffset, int length, byte[]? data)
    {
        ArgumentNullException.ThrowIfNull(samples);
        Time = time;
        Duration = duration;
        Traf = traf;
        Archive = archive;
        ArchiveOffset = archiveOffset;
        Length = length;
        FirstSampleIsSync = samples is [{ IsSync: true }, ..];
        FirstSampleSize = samples is [var first, ..] ? first.Size : 0;
        _data = data;
        _samples = samples;
        if (data is null)
        {
            Pack();
        }
    }

    public long Time { get; }

    public long Duration { get; }

    public long End => Time + Duration;

    /// <summary>Layout of the single 'traf', for rewriting the fragment for players.</summary>
    public TrackFragment Traf { get; }

    /// <summary>
    /// Every sample, in decode order: every output is written from these, never from a parse of its own. Outside the
    /// memory window the table is kept packed and each read unpacks a copy.
    /// </summary>
    public FragmentSample[] Samples => Volatile.Read(ref _samples) ?? Volatile.Read(ref _packed)!.Unpack();

    public bool FirstSampleIsSync { get; }

    public int FirstSampleSize { get; }

    public StreamArchive Archive { get; }

    public long ArchiveOffset { get; }

    public int Length { get; }

    /// <summary>True when the encoder restarted or skipped time right before this fragment.</summary>
    public bool Discontinuity { get; init; }

    /// <summary>The segment number, from media time (<see cref="SegmentNumbering"/>); set when the track indexes it.</summary>
    public long Sequence { get; internal set; }

    /// <summary>
    /// When the fragment was gathered from low-latency chunks: each chunk (LL-HLS part) in order. The parts are served
    /// again from the fragment's samples, byte for byte as they were while the segment was open.
    /// </summary>
    public IReadOnlyList<PartLayout>? Parts { get; init; }

    /// <summary>Where the keyframe ends in this fragment's TS segment (an I-frame playlist's byte range), once computed.</summary>
    public int? TsKeyframeEnd
    {
        get => Volatile.Read(ref _tsKeyframeEnd) is var end and > 0 ? end : null;
        set => Volatile.Write(ref _tsKeyframeEnd, value ?? 0);
    }

    private int _tsKeyframeEnd;

    /// <summary>The bytes while the fragment is inside the memory window; null once evicted (read from the archive).</summary>
    public byte[]? Data => Volatile.Read(ref _data);

    /// <summary>Leaves the memory window: the bytes are dropped (read from the archive from now on) and the sample table packed.</summary>
    internal void Evict()
    {
        Volatile.Write(ref _data, null);
        Pack();
    }

    /// <summary>The TS segment size estimate of this fragment (BANDWIDTH), once computed from a complete interval.</summary>
    public double? TsBytesEstimate
    {
        get => Volatile.Read(ref _tsBytes) is var bytes and > 0 ? bytes : null;
        set => Volatile.Write(ref _tsBytes, value ?? 0);
    }

    private double _tsBytes;

    private void Pack()
    {
        if (Volatile.Read(ref _samples) is { } samples && PackedSamples.TryPack(samples) is { } packed)
        {
            Volatile.Write(ref _packed, packed);
            Volatile.Write(ref _samples, null);
        }
    }

    /// <summary>
    /// The bytes for the time it takes to repackage them (dispose after): the array in memory, or the archive's bytes in
    /// a pooled buffer, so a segment made from the older window allocates nothing for its input.
    /// </summary>
    public async ValueTask<FragmentBytes> RentAsync(CancellationToken cancellationToken)
    {
        if (Data is { } data)
        {
            return new FragmentBytes(data, rented: false);
        }

        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Length);
        try
        {
            await Archive.ReadAsync(ArchiveOffset, buffer.AsMemory(0, Length), cancellationToken).ConfigureAwait(false);
            return new FragmentBytes(buffer, rented: true);
        }
        catch
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    public async ValueTask<byte[]> ReadAsync(CancellationToken cancellationToken)
    {
        if (Data is { } data)
        {
            return data;
        }

        var buffer = new byte[Length];
        await Archive.ReadAsync(ArchiveOffset, buffer, cancellationToken).ConfigureAwait(false);
        return buffer;
    }
}

/// <summary>A fragment's bytes lent for repackaging: <see cref="Array"/> may be longer than the fragment.</summary>
public readonly struct FragmentBytes(byte[] array, bool rented) : IDisposable
{
    public byte[] Array => array;

    public void Dispose()
    {
        if (rented)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(array);
        }
    }
}
