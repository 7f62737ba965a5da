using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Tests.Hosting;

/// <summary>Settings a server refuses to start with, and their edges.</summary>
public sealed class OptionsValidationTests
{
    [Theory]
    [InlineData(nameof(PublishingPointOptions.MemoryWindowSeconds), 0, true)]
    [InlineData(nameof(PublishingPointOptions.MemoryWindowSeconds), 604800, true)]
    [InlineData(nameof(PublishingPointOptions.MemoryWindowSeconds), -1, false)]
    [InlineData(nameof(PublishingPointOptions.MemoryWindowSeconds), 604801, false)]
    [InlineData(nameof(PublishingPointOptions.SegmentCacheMegabytes), 16, true)]
    [InlineData(nameof(PublishingPointOptions.SegmentCacheMegabytes), 1048576, true)]
    [InlineData(nameof(PublishingPointOptions.SegmentCacheMegabytes), 15, false)]
    [InlineData(nameof(PublishingPointOptions.SegmentCacheMegabytes), 1048577, false)]
    [InlineData(nameof(PublishingPointOptions.ReceiveBlockKilobytes), 4, true)]
    [InlineData(nameof(PublishingPointOptions.ReceiveBlockKilobytes), 64, true)]
    [InlineData(nameof(PublishingPointOptions.ReceiveBlockKilobytes), 3, false)]
    [InlineData(nameof(PublishingPointOptions.ReceiveBlockKilobytes), 65, false)]
    public void Setting_IsRefusedOutsideItsRange_WithItsNameInTheMessage(string setting, int value, bool valid)
    {
        var options = new PublishingPointOptions();
        typeof(PublishingPointOptions).GetProperty(setting)!.SetValue(options, value);

        var result = new PublishingPointOptionsValidator().Validate(null, options);

        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains($"PublishingPoint:{setting} must be between", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// A fragment's 'moof' and 'mdat', each up to MaxBoxBytes, are held in one array: at the old limit (1 GiB) the two
    /// overflowed its length, and such a fragment got a 500 instead of a 413 (a review's finding).
    /// </summary>
    [Theory]
    [InlineData(536870912L, true)]
    [InlineData(536870913L, false)]
    public void MaxBoxBytes_IsAtMostHalfOfWhatOneArrayHolds(long maxBox, bool valid)
    {
        var options = new PublishingPointOptions { MaxBoxBytes = maxBox };
        options.MaxIngestBytesPerConnection = options.MaxIngestBytesPerPoint = options.MaxIngestBytesPerServer = 2 * maxBox;

        var result = new PublishingPointOptionsValidator().Validate(null, options);

        Assert.True(valid == result.Succeeded, result.FailureMessage);
        Assert.True(valid || result.FailureMessage!.Contains("PublishingPoint:MaxBoxBytes must be between 65536 and 536870912", StringComparison.Ordinal), result.FailureMessage);
    }

    [Theory]
    [InlineData(0, 0, true)]
    [InlineData(1024, 1024, true)]
    [InlineData(-1, 0, false)]
    [InlineData(2048, 1024, false)]
    public void MemoryWindowBytes_PerPointAtLeast0_PerServerAtLeastPerPoint(long perPoint, long perServer, bool valid)
    {
        var options = new PublishingPointOptions { MaxMemoryWindowBytesPerPoint = perPoint, MaxMemoryWindowBytesPerServer = perServer };

        var result = new PublishingPointOptionsValidator().Validate(null, options);

        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("PublishingPoint:MaxMemoryWindowBytesPerPoint must be at least 0", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    /// <summary>A review's finding: any key was taken, and one signed URL lets anyone try short keys offline.</summary>
    [Theory]
    [InlineData("", true)]
    [InlineData("0123456789abcdef", true)]
    [InlineData("0123456789abcde", false)]
    [InlineData("short", false)]
    public void PlaybackSigningKey_WhenSet_HasAtLeast16Characters(string key, bool valid)
    {
        var result = new PublishingPointOptionsValidator().Validate(null, new PublishingPointOptions { PlaybackSigningKey = key });

        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("PublishingPoint:PlaybackSigningKey", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Defaults_AreValid_AndKeepOnlyTheNewestFragmentInMemory()
    {
        var options = new PublishingPointOptions();

        Assert.True(new PublishingPointOptionsValidator().Validate(null, options).Succeeded);
        Assert.Equal(0, options.MemoryWindowSeconds);
        Assert.Equal(512, options.SegmentCacheMegabytes);
    }
}
