using PublishingPoint.Media.Codecs.Aac;

namespace PublishingPoint.Media.Tests.Codecs.Aac;

public class AudioSpecificConfigTests
{
    [Fact]
    public void ParsesAacLc48kStereo()
    {
        var asc = AudioSpecificConfig.FromCodecPrivateData("1190");
        Assert.Equal(2, asc.ObjectType);
        Assert.Equal(2, asc.BaseObjectType);
        Assert.Equal(3, asc.SamplingFrequencyIndex);
        Assert.Equal(48000, asc.SamplingFrequency);
        Assert.Equal(2, asc.ChannelConfiguration);
        Assert.Equal(2, asc.ChannelCount);
        Assert.Equal(1024, asc.SamplesPerFrame);
        Assert.False(asc.SbrPresent);
        Assert.Equal(0, asc.ExtensionObjectType);
        Assert.Equal("mp4a.40.2", asc.CodecString);
    }

    [Fact]
    public void ParsesBaseConfigAndToleratesSbrSyncExtension()
    {
        // 1188: AAC-LC, 48 kHz, mono; 56E5 00: sync extension 0x2B7, extension AOT 5, sbrPresentFlag 0.
        var asc = AudioSpecificConfig.FromCodecPrivateData("118856E500");
        Assert.Equal(2, asc.ObjectType);
        Assert.Equal(48000, asc.SamplingFrequency);
        Assert.Equal(1, asc.ChannelConfiguration);
        Assert.Equal(5, asc.ExtensionObjectType);
        Assert.False(asc.SbrPresent);
        Assert.Equal("mp4a.40.2", asc.CodecString);
    }

    [Fact]
    public void ParsesBackwardCompatibleSbrSignalling()
    {
        // 1310: AAC-LC 24 kHz stereo; 56E598: 0x2B7, AOT 5, sbrPresentFlag 1, extension index 3 (48 kHz).
        var asc = AudioSpecificConfig.FromCodecPrivateData("131056E598");
        Assert.Equal(2, asc.ObjectType);
        Assert.Equal(24000, asc.SamplingFrequency);
        Assert.True(asc.SbrPresent);
        Assert.Equal(48000, asc.ExtensionSamplingFrequency);
    }

    [Fact]
    public void ParsesExplicitHeAac()
    {
        // AOT 5 | index 6 (24 kHz) | channels 2 | ext index 3 (48 kHz) | AOT 2 | GASpecificConfig 000
        // 00101 0110 0010 0011 00010 000 -> 0010 1011 0001 0001 1000 1000 0000 0000
        var asc = AudioSpecificConfig.Parse([0x2B, 0x11, 0x88, 0x00]);
        Assert.Equal(5, asc.ObjectType);
        Assert.Equal(2, asc.BaseObjectType);
        Assert.Equal(24000, asc.SamplingFrequency);
        Assert.Equal(48000, asc.ExtensionSamplingFrequency);
        Assert.True(asc.SbrPresent);
        Assert.Equal("mp4a.40.5", asc.CodecString);
    }

    [Fact]
    public void ParsesEscapedObjectTypeAndExplicitFrequency()
    {
        // AOT escape 11111 + 000010 (34) | index 1111 + 24-bit 0x00BB80 (48000) | channels 0001
        // 11111000 01011110 00000001 01110111 00000000 001(00000)
        var asc = AudioSpecificConfig.Parse([0xF8, 0x5E, 0x01, 0x77, 0x00, 0x20]);
        Assert.Equal(34, asc.ObjectType);
        Assert.Equal(15, asc.SamplingFrequencyIndex);
        Assert.Equal(48000, asc.SamplingFrequency);
        Assert.Equal(1, asc.ChannelConfiguration);
        Assert.Equal("mp4a.40.34", asc.CodecString);
    }

    [Fact]
    public void RejectsReservedFrequencyIndex()
    {
        // AOT 2, index 13
        Assert.Throws<InvalidDataException>(() => AudioSpecificConfig.Parse([0x16, 0x90]));
    }
}
