using System.Runtime.CompilerServices;

namespace Terrarium.IntegrationTests;

/// <summary>Waits that fail with what they waited for, instead of sleeps.</summary>
public static class TestWaits
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(90);

    public static async Task<T> DefaultTimeout<T>(this Task<T> task, [CallerArgumentExpression(nameof(task))] string what = "")
    {
        try
        {
            return await task.WaitAsync(Default);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"waited {Default} for: {what}");
        }
    }

    public static async Task DefaultTimeout(this Task task, [CallerArgumentExpression(nameof(task))] string what = "")
    {
        try
        {
            await task.WaitAsync(Default);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"waited {Default} for: {what}");
        }
    }

    public static Task<T> DefaultTimeout<T>(this ObjectRef<T> reference, [CallerArgumentExpression(nameof(reference))] string what = "") =>
        reference.GetAsync().DefaultTimeout(what);

    /// <summary>Polls <paramref name="condition"/> until it holds.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Default;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited {Default} for: {what}");
            }

            await Task.Delay(50);
        }
    }

    public static Task UntilAsync(Func<bool> condition, string what) => UntilAsync(() => Task.FromResult(condition()), what);
}
