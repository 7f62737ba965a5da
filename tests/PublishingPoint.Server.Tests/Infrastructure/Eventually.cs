namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>Polls a condition until it holds or a deadline passes: for what the server does on its own time.</summary>
public static class Eventually
{
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string failure, TimeSpan? timeout = null, TimeSpan? poll = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not answering yet
            }

            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail(failure);
            }

            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(50));
        }
    }

    public static Task WaitUntilAsync(Func<bool> condition, string failure, TimeSpan? timeout = null) =>
        WaitUntilAsync(() => Task.FromResult(condition()), failure, timeout);
}
