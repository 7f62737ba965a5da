using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.MpegTs;

namespace PublishingPoint.Media.Tests.MpegTs;

internal sealed record DemuxedUnit(long Dts, long Pts, bool IsKeyframe, byte[] Data);

/// <summary>Keeps everything a <see cref="TsDemuxer"/> reports.</summary>
internal sealed class RecordingDemuxerSink : ITsDemuxerSink
{
    public List<(bool Video, bool Audio)> Programs { get; } = [];
    public List<(AvcDecoderConfiguration Config, bool Changed)> VideoConfigs { get; } = [];
    public List<(AudioSpecificConfig Config, bool Changed)> AudioConfigs { get; } = [];
    public List<DemuxedUnit> Video { get; } = [];
    public List<(long Pts, byte[] Data)> Audio { get; } = [];

    public void OnProgram(bool hasVideo, bool hasAudio) => Programs.Add((hasVideo, hasAudio));

    public void OnVideoConfiguration(AvcDecoderConfiguration configuration, bool changed) => VideoConfigs.Add((configuration, changed));

    public void OnVideoAccessUnit(long dts90k, long pts90k, bool isKeyframe, ReadOnlySpan<byte> avcc) =>
        Video.Add(new DemuxedUnit(dts90k, pts90k, isKeyframe, avcc.ToArray()));

    public void OnAudioConfiguration(AudioSpecificConfig configuration, bool changed) => AudioConfigs.Add((configuration, changed));

    public void OnAudioFrame(long pts90k, ReadOnlySpan<byte> rawFrame) => Audio.Add((pts90k, rawFrame.ToArray()));
}
