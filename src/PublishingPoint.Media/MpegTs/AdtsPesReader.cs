using PublishingPoint.Media.Codecs.Aac;

namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// Splits AAC ADTS PES payloads (ISO/IEC 13818-1 2.4.3.7, 13818-7 6.2) into raw frames. A PES PTS applies to the
/// first frame that starts in that PES; frame n after it is at PTS + n * 1024 * 90000 / sampleRate, computed from
/// n each time (no accumulated rounding). A PTS that agrees with that running count (within half a frame) keeps it,
/// so rounded PES timestamps cause no jitter; one that does not (a gap, a jump) restarts it. Frames may straddle
/// PES packets; bytes that are not ADTS are skipped up to the next syncword.
/// </summary>
internal sealed class AdtsPesReader
{
    private const int SamplesPerFrame = 1024;

    private readonly ITsDemuxerSink _sink;
    private readonly TsTimeline _timeline;
    private readonly byte[] _carry = new byte[2 * Adts.MaxFrameLength];
    private int _carryCount;
    private AdtsHeader? _header;
    private int _sampleRate;
    private bool _haveBase;
    private long _base90k;
    private long _frameIndex;

    public AdtsPesReader(ITsDemuxerSink sink, TsTimeline timeline)
    {
        _sink = sink;
        _timeline = timeline;
    }

    public int Delivered { get; private set; }

    public int SkippedBytes { get; private set; }

    /// <summary>Data was lost: a partly received frame is dropped, the next PES PTS restarts the count.</summary>
    public void Interrupt()
    {
        _carryCount = 0;
        _haveBase = false;
    }

    public void Read(ReadOnlySpan<byte> pesBytes)
    {
        if (!PesPacket.TryRead(pesBytes, out var pes))
        {
            return;
        }

        if (pes.Pts is { } rawPts)
        {
            var pts = _timeline.Unwrap(rawPts);
            var index = _frameIndex + (_carryCount > 0 ? 1 : 0);
            if (!_haveBase || _sampleRate == 0 || Math.Abs(pts - FrameTime(index)) > HalfFrame90k())
            {
                _carryCount = 0;
                _haveBase = true;
                _base90k = pts;
                _frameIndex = 0;
            }
        }

        if (!_haveBase)
        {
            return; // no time to give these frames yet
        }

        var data = pes.Payload;
        if (_carryCount > 0)
        {
            // Complete the frame that started in the previous PES first.
            var need = Math.Min(data.Length, _carry.Length - _carryCount);
            data[..need].CopyTo(_carry.AsSpan(_carryCount));
            var consumed = ReadFrames(_carry.AsSpan(0, _carryCount + need), stopAfterFirst: true);
            if (consumed <= _carryCount)
            {
                _carryCount += need;
                if (_carryCount >= Adts.MaxFrameLength)
                {
                    SkippedBytes += _carryCount;
                    _carryCount = 0;
                }

                return;
            }

            data = data[(consumed - _carryCount)..];
            _carryCount = 0;
        }

        var used = ReadFrames(data, stopAfterFirst: false);
        var left = data[used..];
        left.CopyTo(_carry);
        _carryCount = left.Length;
    }

    /// <summary>Delivers whole frames from the start of <paramref name="data"/>; returns the bytes consumed.</summary>
    private int ReadFrames(ReadOnlySpan<byte> data, bool stopAfterFirst)
    {
        var at = 0;
        while (data.Length - at >= Adts.HeaderLength)
        {
            var rest = data[at..];
            if (!AdtsHeader.TryRead(rest, out var header))
            {
                var next = rest[1..].IndexOf((byte)0xFF);
                var skip = next < 0 ? rest.Length : next + 1;
                SkippedBytes += skip;
                at += skip;
                continue;
            }

            if (header.FrameLength > rest.Length)
            {
                break;
            }

            if (_header is not { } current || !current.SameConfiguration(header))
            {
                var rate = AudioSpecificConfigRate(header);
                if (_header is not null && rate != _sampleRate)
                {
                    // Rate change: restart the count at this frame's time.
                    _base90k = FrameTime(_frameIndex);
                    _frameIndex = 0;
                }

                var first = _header is null;
                _header = header;
                _sampleRate = rate;
                _sink.OnAudioConfiguration(header.ToAudioSpecificConfig(), changed: !first);
            }

            if (header.RawDataBlocks == 0 && header.RawLength > 0)
            {
                Delivered++;
                _sink.OnAudioFrame(FrameTime(_frameIndex), rest.Slice(header.HeaderLength, header.RawLength));
            }

            _frameIndex++;
            at += header.FrameLength;
            if (stopAfterFirst)
            {
                break;
            }
        }

        return at;
    }

    private long FrameTime(long index) =>
        _sampleRate == 0 ? _base90k : _base90k + (long)((Int128)index * SamplesPerFrame * 90_000 / _sampleRate);

    private long HalfFrame90k() => SamplesPerFrame * 90_000L / _sampleRate / 2;

    private static int AudioSpecificConfigRate(in AdtsHeader header) => header.ToAudioSpecificConfig().SamplingFrequency;
}
