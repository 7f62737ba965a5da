using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.MpegTs;
using PublishingPoint.Media.Tests.Codecs.H264;

namespace PublishingPoint.Media.Tests.MpegTs;

/// <summary>Made-up but well-formed samples: 25 fps video with B-frame reordering, 48 kHz AAC frames.</summary>
internal static class SyntheticStream
{
    public const long FrameTicks = 3_600;
    public const long AudioFrameTicks = 1_920;

    public static AvcDecoderConfiguration Video { get; } =
        AvcDecoderConfiguration.FromCodecPrivateData(AvcDecoderConfigurationTests.SmoothCodecPrivateData);

    public static AudioSpecificConfig Audio { get; } = AudioSpecificConfig.FromCodecPrivateData("1190");

    /// <summary>Frames firstFrame.. with a keyframe every <paramref name="keyEvery"/>; sizes vary so PES end at every packet offset.</summary>
    public static TsSample[] VideoSamples(int firstFrame, int count, long baseTime = 900_000, int keyEvery = 25)
    {
        var samples = new TsSample[count];
        for (var i = 0; i < count; i++)
        {
            var frame = firstFrame + i;
            var key = frame % keyEvery == 0;
            var nalLength = key ? 3000 + (frame * 7 % 500) : 40 + (frame * 37 % 900);
            var nal = new byte[nalLength];
            nal[0] = key ? (byte)0x65 : (byte)0x41;
            for (var j = 1; j < nal.Length; j++)
            {
                nal[j] = (byte)(j * 31 + frame);
            }

            var dts = baseTime + (frame * FrameTicks);
            var pts = dts + ((frame % 3) == 0 ? 2 * FrameTicks : FrameTicks);
            samples[i] = new TsSample(dts, pts, key, AnnexBTests.Avcc(4, nal));
        }

        return samples;
    }

    public static TsSample[] AudioSamples(int firstFrame, int count, long baseTime = 900_000)
    {
        var samples = new TsSample[count];
        for (var i = 0; i < count; i++)
        {
            var frame = firstFrame + i;
            var data = new byte[150 + (frame * 13 % 250)];
            Array.Fill(data, (byte)frame);
            var pts = baseTime + (frame * AudioFrameTicks);
            samples[i] = new TsSample(pts, pts, true, data);
        }

        return samples;
    }
}
