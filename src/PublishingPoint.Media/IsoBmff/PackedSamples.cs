namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// A fragment's sample table kept small for the long tail of a DVR window: a field that is the same for every sample
/// (durations, flags other than the sync bit, audio's zero composition offsets) is stored once, data offsets once when
/// the samples are back to back, and sizes and composition offsets as plain arrays: about 8 bytes a video sample and 4
/// an audio sample instead of 32. <see cref="Unpack"/> gives back the very table that was packed.
/// </summary>
public sealed class PackedSamples
{
    private readonly long _firstDecodeTime;
    private readonly int[] _sizes;
    private readonly int[]? _compositionOffsets;
    private readonly uint[]? _durations;
    private readonly uint _duration;
    private readonly uint[]? _flags;
    private readonly uint _syncFlags;
    private readonly uint _otherFlags;
    private readonly ulong[]? _sync;
    private readonly int[]? _dataOffsets;
    private readonly int _firstDataOffset;

    private PackedSamples(ReadOnlySpan<FragmentSample> samples)
    {
        var first = samples[0];
        _firstDecodeTime = first.DecodeTime;
        _firstDataOffset = first.DataOffset;
        _sizes = new int[samples.Length];
        bool sameDuration = true, zeroComposition = true, contiguous = true;
        uint? syncFlags = null, otherFlags = null;
        var twoFlagValues = true;
        for (var i = 0; i < samples.Length; i++)
        {
            var s = samples[i];
            _sizes[i] = s.Size;
            sameDuration &= s.Duration == first.Duration;
            zeroComposition &= s.CompositionOffset == 0;
            contiguous &= i == 0 || s.DataOffset == samples[i - 1].DataOffset + samples[i - 1].Size;

            ref var slot = ref s.IsSync ? ref syncFlags : ref otherFlags;
            slot ??= s.Flags;
            twoFlagValues &= slot == s.Flags;
        }

        _duration = first.Duration;
        _durations = sameDuration ? null : Collect(samples, static s => s.Duration);
        _compositionOffsets = zeroComposition ? null : Collect(samples, static s => s.CompositionOffset);
        _dataOffsets = contiguous ? null : Collect(samples, static s => s.DataOffset);
        if (twoFlagValues)
        {
            _syncFlags = syncFlags ?? 0;
            _otherFlags = otherFlags ?? 0;
            _sync = new ulong[(samples.Length + 63) / 64];
            for (var i = 0; i < samples.Length; i++)
            {
                if (samples[i].IsSync)
                {
                    _sync[i / 64] |= 1UL << (i % 64);
                }
            }
        }
        else
        {
            _flags = Collect(samples, static s => s.Flags);
        }
    }

    public int Count => _sizes.Length;

    /// <summary>Null for an empty table or one whose decode times are not each the previous plus its duration (kept as it is).</summary>
    public static PackedSamples? TryPack(ReadOnlySpan<FragmentSample> samples)
    {
        if (samples.IsEmpty)
        {
            return null;
        }

        for (var i = 1; i < samples.Length; i++)
        {
            if (samples[i].DecodeTime != samples[i - 1].DecodeTime + samples[i - 1].Duration)
            {
                return null;
            }
        }

        return new PackedSamples(samples);
    }

    public FragmentSample[] Unpack()
    {
        var samples = new FragmentSample[_sizes.Length];
        var decode = _firstDecodeTime;
        var offset = _firstDataOffset;
        for (var i = 0; i < samples.Length; i++)
        {
            var duration = _durations?[i] ?? _duration;
            var flags = _flags?[i] ?? ((_sync![i / 64] >> (i % 64) & 1) != 0 ? _syncFlags : _otherFlags);
            var dataOffset = _dataOffsets?[i] ?? offset;
            samples[i] = new FragmentSample(decode, duration, _compositionOffsets?[i] ?? 0, _sizes[i], flags, dataOffset);
            decode += duration;
            offset = dataOffset + _sizes[i];
        }

        return samples;
    }

    private static T[] Collect<T>(ReadOnlySpan<FragmentSample> samples, Func<FragmentSample, T> field)
    {
        var values = new T[samples.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = field(samples[i]);
        }

        return values;
    }
}
