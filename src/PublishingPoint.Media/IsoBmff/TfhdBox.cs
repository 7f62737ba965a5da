using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// §8.8.7 TrackFragmentHeaderBox ('tfhd'): track_ID, then each optional field its flag says is present.
/// <code>
/// FullBox('tfhd', 0, tf_flags) track_ID(32) [base_data_offset(64)] [sample_description_index(32)]
///   [default_sample_duration(32)] [default_sample_size(32)] [default_sample_flags(32)]
/// </code>
/// </summary>
public readonly record struct TfhdBox(uint TrackId)
{
    private const uint BaseDataOffsetPresent = 0x01;
    private const uint SampleDescriptionIndexPresent = 0x02;
    private const uint DefaultSampleDurationPresent = 0x08;
    private const uint DefaultSampleSizePresent = 0x10;
    private const uint DefaultSampleFlagsPresent = 0x20;
    private const uint DurationIsEmptyFlag = 0x010000;
    private const uint DefaultBaseIsMoofFlag = 0x020000;

    /// <summary>An absolute file offset the data offsets count from; rare in fragments made for streaming.</summary>
    public ulong? BaseDataOffset { get; init; }

    public uint? SampleDescriptionIndex { get; init; }

    public uint? DefaultSampleDuration { get; init; }

    public uint? DefaultSampleSize { get; init; }

    public uint? DefaultSampleFlags { get; init; }

    public bool DurationIsEmpty { get; init; }

    /// <summary>Data offsets count from the 'moof' (CMAF always sets it).</summary>
    public bool DefaultBaseIsMoof { get; init; }

    public int Size => 8 + 4 + 4 + (BaseDataOffset is null ? 0 : 8) + Present(SampleDescriptionIndex) + Present(DefaultSampleDuration)
        + Present(DefaultSampleSize) + Present(DefaultSampleFlags);

    private uint Flags =>
        (BaseDataOffset is null ? 0 : BaseDataOffsetPresent) | (SampleDescriptionIndex is null ? 0 : SampleDescriptionIndexPresent)
        | (DefaultSampleDuration is null ? 0 : DefaultSampleDurationPresent) | (DefaultSampleSize is null ? 0 : DefaultSampleSizePresent)
        | (DefaultSampleFlags is null ? 0 : DefaultSampleFlagsPresent) | (DurationIsEmpty ? DurationIsEmptyFlag : 0) | (DefaultBaseIsMoof ? DefaultBaseIsMoofFlag : 0);

    /// <summary>The sample defaults in force: these over the track's 'trex' ones.</summary>
    public SampleDefaults Over(SampleDefaults trex) =>
        new(DefaultSampleDuration ?? trex.Duration, DefaultSampleSize ?? trex.Size, DefaultSampleFlags ?? trex.Flags);

    public static TfhdBox Read(ReadOnlySpan<byte> payload)
    {
        MovieFragmentReader.RequireLength(payload, 8, BoxTypes.Tfhd);
        var flags = BinaryPrimitives.ReadUInt32BigEndian(payload) & 0xFFFFFF;
        var at = 8;
        return new TfhdBox(BinaryPrimitives.ReadUInt32BigEndian(payload[4..]))
        {
            BaseDataOffset = (flags & BaseDataOffsetPresent) != 0 ? ReadUInt64(payload, ref at) : null,
            SampleDescriptionIndex = Optional(payload, ref at, flags, SampleDescriptionIndexPresent),
            DefaultSampleDuration = Optional(payload, ref at, flags, DefaultSampleDurationPresent),
            DefaultSampleSize = Optional(payload, ref at, flags, DefaultSampleSizePresent),
            DefaultSampleFlags = Optional(payload, ref at, flags, DefaultSampleFlagsPresent),
            DurationIsEmpty = (flags & DurationIsEmptyFlag) != 0,
            DefaultBaseIsMoof = (flags & DefaultBaseIsMoofFlag) != 0,
        };
    }

    public int Write(Span<byte> destination)
    {
        var w = new SpanWriter(destination);
        Write(ref w);
        return w.Position;
    }

    internal void Write(ref SpanWriter w)
    {
        w.FullBox(BoxTypes.Tfhd, Size, 0, Flags);
        w.UInt32(TrackId);
        if (BaseDataOffset is { } baseOffset)
        {
            w.UInt64(baseOffset);
        }

        foreach (var value in (ReadOnlySpan<uint?>)[SampleDescriptionIndex, DefaultSampleDuration, DefaultSampleSize, DefaultSampleFlags])
        {
            if (value is { } v)
            {
                w.UInt32(v);
            }
        }
    }

    private static int Present(uint? value) => value is null ? 0 : 4;

    private static ulong ReadUInt64(ReadOnlySpan<byte> payload, ref int at)
    {
        MovieFragmentReader.RequireLength(payload, at + 8, BoxTypes.Tfhd);
        var value = BinaryPrimitives.ReadUInt64BigEndian(payload[at..]);
        at += 8;
        return value;
    }

    private static uint? Optional(ReadOnlySpan<byte> payload, ref int at, uint flags, uint bit)
    {
        if ((flags & bit) == 0)
        {
            return null;
        }

        MovieFragmentReader.RequireLength(payload, at + 4, BoxTypes.Tfhd);
        var value = BinaryPrimitives.ReadUInt32BigEndian(payload[at..]);
        at += 4;
        return value;
    }
}
