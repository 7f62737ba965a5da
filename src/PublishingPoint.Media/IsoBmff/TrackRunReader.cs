using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>One sample as a 'trun' describes it.</summary>
public readonly record struct RunSample(uint Duration, uint Size, uint Flags, int CompositionOffset);

/// <summary>
/// §8.8.8 TrackRunBox payload:
/// <code>
/// version(8) flags(24) sample_count(32) [data_offset(32)] [first_sample_flags(32)]
/// { [duration(32)] [size(32)] [flags(32)] [composition_time_offset(32)] } * sample_count
/// </code>
/// </summary>
public ref struct TrackRunReader
{
    private const uint DataOffsetPresent = TrunBox.DataOffsetPresent;
    private const uint FirstSampleFlagsPresent = TrunBox.FirstSampleFlagsPresent;
    private const uint DurationPresent = TrunBox.DurationPresent;
    private const uint SizePresent = TrunBox.SizePresent;
    private const uint FlagsPresent = TrunBox.FlagsPresent;
    private const uint CompositionOffsetPresent = TrunBox.CompositionOffsetPresent;

    /// <summary>
    /// The most samples one fragment may hold (all its runs together): a 2 s fragment holds about a hundred, ten minutes
    /// of 48 kHz audio 28,125. A run whose samples carry no fields of their own takes no bytes per sample, so without
    /// this a 100-byte box could announce two billion of them.
    /// </summary>
    public const int MaxSamples = 1 << 18;

    private readonly ReadOnlySpan<byte> _payload;
    private readonly uint _flags;
    private readonly bool _signedOffsets;
    private readonly SampleDefaults _defaults;
    private readonly uint? _firstSampleFlags;
    private readonly int _entrySize;
    private int _at;
    private int _index;

    public TrackRunReader(ReadOnlySpan<byte> payload, SampleDefaults defaults)
    {
        MovieFragmentReader.RequireLength(payload, 8, BoxTypes.Trun);
        _payload = payload;
        _signedOffsets = payload[0] >= 1;
        _flags = BinaryPrimitives.ReadUInt32BigEndian(payload) & 0xFFFFFF;
        _defaults = defaults;
        var count = BinaryPrimitives.ReadUInt32BigEndian(payload[4..]);
        _at = 8;
        if ((_flags & DataOffsetPresent) != 0)
        {
            MovieFragmentReader.RequireLength(payload, _at + 4, BoxTypes.Trun);
            DataOffset = BinaryPrimitives.ReadInt32BigEndian(payload[_at..]);
            _at += 4;
        }

        if ((_flags & FirstSampleFlagsPresent) != 0)
        {
            MovieFragmentReader.RequireLength(payload, _at + 4, BoxTypes.Trun);
            _firstSampleFlags = BinaryPrimitives.ReadUInt32BigEndian(payload[_at..]);
            _at += 4;
        }

        _entrySize = 4 * (((_flags & DurationPresent) != 0 ? 1 : 0) + ((_flags & SizePresent) != 0 ? 1 : 0)
            + ((_flags & FlagsPresent) != 0 ? 1 : 0) + ((_flags & CompositionOffsetPresent) != 0 ? 1 : 0));
        if (count > MaxSamples || (long)count * _entrySize > payload.Length - _at)
        {
            throw InvalidBoxException.For(BoxTypes.Trun, count > MaxSamples ? $"sample_count {count} is over {MaxSamples}" : $"sample_count {count} does not fit the box");
        }

        SampleCount = (int)count;
    }

    public int SampleCount { get; }

    /// <summary>data_offset, when present: where the first sample starts relative to the base offset.</summary>
    public int? DataOffset { get; }

    public bool TryNext(out RunSample sample)
    {
        if (_index >= SampleCount)
        {
            sample = default;
            return false;
        }

        var duration = (_flags & DurationPresent) != 0 ? Next() : _defaults.Duration;
        var size = (_flags & SizePresent) != 0 ? Next() : _defaults.Size;
        var flags = (_flags & FlagsPresent) != 0 ? Next() : (_index == 0 && _firstSampleFlags is { } first ? first : _defaults.Flags);
        var cto = 0;
        if ((_flags & CompositionOffsetPresent) != 0)
        {
            var raw = Next();
            cto = _signedOffsets ? unchecked((int)raw) : (int)Math.Min(raw, int.MaxValue);
        }

        _index++;
        sample = new RunSample(duration, size, flags, cto);
        return true;
    }

    private uint Next()
    {
        var value = BinaryPrimitives.ReadUInt32BigEndian(_payload[_at..]);
        _at += 4;
        return value;
    }
}
