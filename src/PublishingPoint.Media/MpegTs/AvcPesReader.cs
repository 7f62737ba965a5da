using System.Buffers.Binary;
using PublishingPoint.Media.Codecs.H264;

namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// Turns H.264 PES payloads (one Annex B access unit each, ISO/IEC 13818-1 2.14) into AVCC access units: 4-byte
/// length prefixes, AUD, SPS, PPS and filler data left out. Tracks the SPS/PPS in use, and holds output back until
/// the first IDR access unit with both known (and again after data was lost).
/// </summary>
internal sealed class AvcPesReader
{
    private const int NalLengthSize = 4;
    private const long MaxCompositionOffset90k = 10 * 90_000;
    private const int FillerData = 12;

    private readonly ITsDemuxerSink _sink;
    private readonly TsTimeline _timeline;
    private byte[] _output = new byte[32 * 1024];
    private byte[]? _sps;
    private byte[]? _pps;
    private AvcDecoderConfiguration? _configuration;
    private bool _waitForIdr = true;

    public AvcPesReader(ITsDemuxerSink sink, TsTimeline timeline)
    {
        _sink = sink;
        _timeline = timeline;
    }

    public int Delivered { get; private set; }

    /// <summary>Bytes of the output buffer (it grows with the largest access unit and stays: 4 bytes more a NAL unit than its PES).</summary>
    public int Capacity => _output.Length;

    public int Dropped { get; private set; }

    /// <summary>Data was lost: what follows may reference what is missing, so wait for the next IDR.</summary>
    public void Interrupt() => _waitForIdr = true;

    public void Read(ReadOnlySpan<byte> pesBytes)
    {
        if (!PesPacket.TryRead(pesBytes, out var pes) || pes.Pts is not { } rawPts)
        {
            Dropped++;
            return;
        }

        var rawDts = (pes.Dts ?? rawPts) & TsConstants.TimestampMask;
        var dts = _timeline.Unwrap(rawDts);
        // PTS from its own DTS's raw value: the unwrapped DTS may carry the timeline's re-basing offset.
        var pts = dts + (TsTimeline.Near(rawDts, rawPts) - rawDts);
        if (Math.Abs(pts - dts) > MaxCompositionOffset90k)
        {
            // Reordering never shows a picture seconds after it is decoded; such a PTS (up to 13 h either way once
            // unwrapped) would place the next cut there and hold the program's audio back until it.
            Dropped++;
            return;
        }

        var rest = pes.Payload;
        var parameterSetsChanged = false;
        var keyframe = false;
        var length = 0;
        while (AnnexB.TryReadNalUnit(ref rest, out var nal))
        {
            switch (NalUnitType.Of(nal[0]))
            {
                case NalUnitType.Sps:
                    parameterSetsChanged |= Keep(ref _sps, nal);
                    continue;
                case NalUnitType.Pps:
                    parameterSetsChanged |= Keep(ref _pps, nal);
                    continue;
                case NalUnitType.AccessUnitDelimiter or FillerData:
                    continue;
                case NalUnitType.IdrSlice:
                    keyframe = true;
                    break;
                default:
                    break;
            }

            EnsureCapacity(length + NalLengthSize + nal.Length);
            BinaryPrimitives.WriteUInt32BigEndian(_output.AsSpan(length), (uint)nal.Length);
            nal.CopyTo(_output.AsSpan(length + NalLengthSize));
            length += NalLengthSize + nal.Length;
        }

        if (parameterSetsChanged)
        {
            UpdateConfiguration();
        }

        if (_configuration is null || length == 0 || (_waitForIdr && !keyframe))
        {
            Dropped++;
            return;
        }

        _waitForIdr = false;
        Delivered++;
        _sink.OnVideoAccessUnit(dts, pts, keyframe, _output.AsSpan(0, length));
    }

    private static bool Keep(ref byte[]? current, ReadOnlySpan<byte> nal)
    {
        if (current is not null && nal.SequenceEqual(current))
        {
            return false;
        }

        current = nal.ToArray();
        return true;
    }

    private void UpdateConfiguration()
    {
        if (_sps is null || _pps is null)
        {
            return;
        }

        AvcDecoderConfiguration configuration;
        try
        {
            configuration = new AvcDecoderConfiguration([_sps], [_pps], NalLengthSize);
        }
        catch (InvalidDataException)
        {
            _sps = null; // an SPS we cannot parse: wait for a good one
            return;
        }

        var first = _configuration is null;
        _configuration = configuration;
        _sink.OnVideoConfiguration(configuration, changed: !first);
    }

    private void EnsureCapacity(int length)
    {
        if (length > _output.Length)
        {
            Array.Resize(ref _output, Math.Max(length, _output.Length * 2));
        }
    }
}
